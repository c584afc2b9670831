"""Errors of access reviews (all RampartError, rendered as problem+json).

RampartError
├── NotFound ── ReviewNotFound, ReviewItemNotFound    no such review / item position
├── Forbidden ── NotTheReviewer                       not assigned, or one's own access
├── Conflict ── ReviewClosed                          signed off, or the item is revoked
│           ├── ReviewNotDecided                      sign-off before every item is decided
│           └── GrantSharedWithKeptItem               the revocation would take a kept item
└── ValidationFailed ── DecisionInvalid               not keep/revoke, no comment
"""

from __future__ import annotations

from core.errors import Conflict, Forbidden, NotFound, ValidationFailed


class ReviewNotFound(NotFound):
    slug, title = "compliance-review-not-found", "No such access review"


class ReviewItemNotFound(NotFound):
    slug, title = "compliance-review-item-not-found", "No such access review item"


class NotTheReviewer(Forbidden):
    slug, title = "compliance-review-not-reviewer", "Not the reviewer of this item"


class ReviewClosed(Conflict):
    slug, title = "compliance-review-closed", "Access review or item is closed"


class ReviewNotDecided(Conflict):
    slug, title = "compliance-review-not-decided", "Access review has undecided items"


class GrantSharedWithKeptItem(Conflict):
    slug, title = "compliance-review-grant-shared", "Revocation would revoke a kept item"


class DecisionInvalid(ValidationFailed):
    slug, title = "compliance-review-decision-invalid", "Review decision is invalid"
