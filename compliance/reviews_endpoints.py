"""HTTP API of access reviews (``/v1/compliance/reviews``): start, list, show, decide, sign off.
Every route is guarded: compliance officers start, decide and sign off; auditors read."""

# No `from __future__ import annotations`: FastAPI must see the Annotated guards as objects.

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query

from compliance import reviews
from compliance.config import ComplianceConfig
from compliance.reviews_access import AccessScope
from compliance.reviews_models import AccessReview
from compliance.reviews_schemas import (
    DecidedOut,
    DecisionIn,
    ReviewOut,
    ReviewsOut,
    ReviewStartIn,
    SignedOffOut,
)
from core.authz import Principal, authorize
from core.http import DbSession
from core.kms.provider import get_key_provider
from core.strict_json import StrictJsonRoute
from policies.principals import principal_subjects

router = APIRouter(
    prefix="/v1/compliance/reviews", tags=["compliance"], route_class=StrictJsonRoute
)

ReviewLister = Annotated[Principal, authorize("compliance/reviews", "list")]
ReviewReader = Annotated[Principal, authorize("compliance/reviews", "read")]
ReviewStarter = Annotated[Principal, authorize("compliance/reviews", "create")]
ReviewDecider = Annotated[Principal, authorize("compliance/reviews", "decide")]
ReviewSigner = Annotated[Principal, authorize("compliance/reviews", "sign-off")]


def _out(session: DbSession, review: AccessReview, *, with_items: bool) -> ReviewOut:
    items = reviews.items_of(session, review.id)
    return ReviewOut(
        review=reviews.review_summary(review),
        undecided=sum(1 for item in items if item.decision is None),
        items=[reviews.item_summary(item) for item in items] if with_items else [],
    )


@router.post("", status_code=201, response_model=ReviewOut, operation_id="start_access_review")
def start(body: ReviewStartIn, session: DbSession, caller: ReviewStarter) -> ReviewOut:
    """Open a review of who can do what now, e.g. ``{"object": "vault/pan", "action":
    "detokenize"}``; items are assigned to ``reviewer`` (default: the control's owner role)."""
    review = reviews.start_review(
        session,
        ComplianceConfig.from_env().library(),
        actor=caller.name,
        scope=AccessScope(body.object, body.action),
        reviewer=body.reviewer,
    )
    return _out(session, review, with_items=True)


@router.get("", response_model=ReviewsOut, operation_id="list_access_reviews")
def list_all(
    session: DbSession,
    caller: ReviewLister,
    status: Annotated[Literal["open", "signed-off"] | None, Query()] = None,
) -> ReviewsOut:
    """Reviews, newest first, with how many items are still undecided."""
    rows = reviews.list_reviews(session, status=status)
    return ReviewsOut(reviews=[_out(session, row, with_items=False) for row in rows])


@router.get("/{review_id}", response_model=ReviewOut, operation_id="read_access_review")
def show(review_id: UUID, session: DbSession, caller: ReviewReader) -> ReviewOut:
    """A review with its items and their decisions."""
    return _out(session, reviews.get_review(session, review_id), with_items=True)


@router.post(
    "/{review_id}/items/{position}/decision",
    response_model=DecidedOut,
    operation_id="decide_access_review_item",
)
def decide(
    review_id: UUID, position: int, body: DecisionIn, session: DbSession, caller: ReviewDecider
) -> DecidedOut:
    """Keep or revoke an item (its reviewer only, never one's own access); a revocation is
    applied at once through the policy store or the role assignments."""
    decided = reviews.decide(
        session,
        review_id,
        position,
        decision=body.decision,
        comment=body.comment,
        actor=caller.name,
        acting_as=principal_subjects(caller),
    )
    return DecidedOut(decided=[reviews.item_summary(item) for item in decided])


@router.post(
    "/{review_id}/sign-off", response_model=SignedOffOut, operation_id="sign_off_access_review"
)
def sign_off(review_id: UUID, session: DbSession, caller: ReviewSigner) -> SignedOffOut:
    """Sign off a review whose every item is decided: signed evidence for 7.2.4."""
    record = reviews.sign_off(
        session,
        ComplianceConfig.from_env().library(),
        get_key_provider(),
        review_id,
        actor=caller.name,
    )
    return SignedOffOut(
        review_id=str(review_id),
        evidence_id=str(record.id),
        sha256=record.digest,
        audit_seq=record.audit_seq,
    )
