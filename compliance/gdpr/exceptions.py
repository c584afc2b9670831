"""Errors of the GDPR request workflow (rendered as problem+json)."""

from __future__ import annotations

from core.errors import Conflict, NotFound


class RequestNotFound(NotFound):
    slug, title = "dsar-request-not-found", "No such data-subject request"


class IllegalTransition(Conflict):
    slug, title = "dsar-illegal-transition", "The request cannot move to that state"


class LinkRefused(NotFound):
    slug, title = "dsar-link-refused", "The download link is unknown, used or expired"
