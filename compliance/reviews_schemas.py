"""Request and response bodies of the access-review API (``/v1/compliance/reviews``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReviewStartIn(_In):
    object: str | None = Field(default=None, max_length=500, description="e.g. vault/pan")
    action: str | None = Field(default=None, max_length=100, description="e.g. detokenize")
    reviewer: str | None = Field(
        default=None, max_length=255, description="role:<name> or user:<sub>"
    )


class DecisionIn(_In):
    decision: Literal["keep", "revoke"]
    comment: str = Field(min_length=1, max_length=2000)


class ReviewOut(BaseModel):
    review: dict[str, Any]
    """id, control, scope, reviewer, policy_version, status, opened/signed-off by and at."""
    undecided: int
    items: list[dict[str, Any]] = Field(default_factory=list)
    """position, subject, subject_label, domain, object, action, condition, rule, granted_by,
    denied_when, reviewer, decision, comment, decided_by, decided_at, revoked_in_version."""


class ReviewsOut(BaseModel):
    reviews: list[ReviewOut]


class DecidedOut(BaseModel):
    decided: list[dict[str, Any]]


class SignedOffOut(BaseModel):
    review_id: str
    evidence_id: str
    sha256: str
    audit_seq: int
