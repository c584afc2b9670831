"""Access reviews (PCI DSS 7.2.4): generated from the live policy and the accounts' roles, each
item kept or revoked by its reviewer, revocations applied through the policy store (a new
version) or the role assignments, and the signed-off review kept as signed evidence.
Flushes only: the caller's unit of work commits (a failed revocation leaves nothing behind)."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Collection
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from compliance.checks import load_all
from compliance.checks.base import Artefact
from compliance.checks.compliance_state import (
    ACCESS_REVIEW_CHECK,
    ACCESS_REVIEW_CONTROL,
    review_age,
    review_cadence,
)
from compliance.controls import ControlLibrary
from compliance.drift import record_transitions
from compliance.evidence import Outcome, canonical_json, record_evidence
from compliance.exceptions import UnknownControl
from compliance.models import EvidenceRecord
from compliance.reviews_access import PERSON, AccessMap, AccessScope
from compliance.reviews_exceptions import (
    DecisionInvalid,
    GrantSharedWithKeptItem,
    NotTheReviewer,
    ReviewClosed,
    ReviewItemNotFound,
    ReviewNotDecided,
    ReviewNotFound,
)
from compliance.reviews_models import DECISIONS, AccessReview, AccessReviewItem
from compliance.service import upload_manual_evidence
from core.audit.service import record_event
from core.audit.signing import Signer
from core.clock import utcnow
from iam.accounts import service as accounts
from policies import service as policy_store

MAX_COMMENT = 2000


def _account_roles(session: Session) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Active users' account roles by subject, and every user's email as its label."""
    roles: dict[str, list[str]] = {}
    labels: dict[str, str] = {}
    for user in accounts.list_users(session):
        subject = f"{PERSON}{user.id}"
        labels[subject] = user.email
        if user.status == "active" and user.roles:
            roles[subject] = user.roles
    return roles, labels


def start_review(
    session: Session,
    library: ControlLibrary,
    *,
    actor: str,
    scope: AccessScope | None = None,
    reviewer: str | None = None,
    control_id: str = ACCESS_REVIEW_CONTROL,
) -> AccessReview:
    """Open a review of who can do what now (within ``scope``), assigned to ``reviewer``
    (default: the owner role of the control)."""
    try:
        _, control = library.control(control_id)
    except KeyError:
        raise UnknownControl(f"unknown control {control_id!r}") from None
    scope = scope or AccessScope()
    snapshot = policy_store.snapshot(session)
    roles, labels = _account_roles(session)
    accesses = AccessMap(snapshot.lines, roles).accesses(scope)
    review = AccessReview(
        control_id=control_id,
        scope_object=scope.object,
        scope_action=scope.action,
        reviewer=(reviewer or f"role:{control.owner_role}")[:255],
        policy_version=snapshot.version,
        opened_by=actor[:255],
        opened_at=utcnow(),
    )
    session.add(review)
    session.flush()
    for position, access in enumerate(accesses, start=1):
        rule = access.rule
        session.add(
            AccessReviewItem(
                review_id=review.id,
                position=position,
                subject=access.subject,
                subject_label=labels.get(access.subject, access.subject)[:320],
                domain=access.domain,
                object=rule.obj,
                action=rule.act,
                condition=rule.cond,
                rule=access.rule_line,
                granted_by=access.granted_by[:500],
                denied_when=orjson.dumps(access.denied_when).decode(),
                revoke_lines=orjson.dumps(access.revoke_lines).decode(),
                revoke_account_roles=orjson.dumps(access.revoke_account_roles).decode(),
                reviewer=review.reviewer,
            )
        )
    session.flush()
    record_event(
        session,
        event_type="compliance.access_review_opened",
        actor=actor,
        resource=f"compliance/reviews/{review.id}",
        details={
            "review_id": str(review.id),
            "control": control_id,
            "scope": {"object": scope.object, "action": scope.action},
            "reviewer": review.reviewer,
            "policy_version": snapshot.version,
            "items": len(accesses),
        },
    )
    return review


def list_reviews(session: Session, *, status: str | None = None) -> list[AccessReview]:
    query = select(AccessReview).order_by(AccessReview.opened_at.desc())
    if status == "open":
        query = query.where(AccessReview.signed_off_at.is_(None))
    elif status == "signed-off":
        query = query.where(AccessReview.signed_off_at.is_not(None))
    return list(session.scalars(query))


def get_review(session: Session, review_id: UUID) -> AccessReview:
    review = session.get(AccessReview, review_id)
    if review is None:
        raise ReviewNotFound(f"no access review {review_id}")
    return review


def items_of(session: Session, review_id: UUID) -> list[AccessReviewItem]:
    return list(
        session.scalars(
            select(AccessReviewItem)
            .where(AccessReviewItem.review_id == review_id)
            .order_by(AccessReviewItem.position)
        )
    )


def undecided_counts(session: Session, review_ids: Collection[UUID]) -> dict[UUID, int]:
    rows = session.execute(
        select(AccessReviewItem.review_id, func.count())
        .where(AccessReviewItem.review_id.in_(review_ids), AccessReviewItem.decision.is_(None))
        .group_by(AccessReviewItem.review_id)
    )
    return {review_id: int(count) for review_id, count in rows}


def _lines(item: AccessReviewItem) -> set[str]:
    return set(orjson.loads(item.revoke_lines))


def _roles(item: AccessReviewItem) -> set[str]:
    return set(orjson.loads(item.revoke_account_roles))


def _revoked_with(item: AccessReviewItem, other: AccessReviewItem) -> bool:
    """Whether revoking ``item`` takes ``other`` away too (every way it is granted goes)."""
    lines, roles = _lines(other), _roles(other)
    if not lines and not roles:
        return False
    if roles and (other.subject != item.subject or not roles <= _roles(item)):
        return False
    return lines <= _lines(item)


def _check_reviewer(
    session: Session, item: AccessReviewItem, acting_as: Collection[str] | None
) -> None:
    """The caller must be the item's reviewer (or hold its role), and not its subject."""
    if acting_as is None:
        return  # a local operator at the CLI, recorded by name
    if item.subject in acting_as:
        raise NotTheReviewer("nobody reviews their own access")
    reached = AccessMap(policy_store.snapshot(session).lines, {}).acts_as(acting_as)
    if item.reviewer not in reached:
        raise NotTheReviewer(f"item {item.position} is assigned to {item.reviewer}")


def decide(
    session: Session,
    review_id: UUID,
    position: int,
    *,
    decision: str,
    comment: str,
    actor: str,
    acting_as: Collection[str] | None = None,
) -> list[AccessReviewItem]:
    """Keep or revoke item ``position``; a revocation is applied at once and also decides the
    undecided items it takes away. Returns every item decided by this call."""
    if decision not in DECISIONS:
        raise DecisionInvalid(f"decide keep or revoke, not {decision!r}")
    comment = comment.strip()
    if not comment:
        raise DecisionInvalid("a decision needs a comment")
    if len(comment) > MAX_COMMENT:
        raise DecisionInvalid(f"a comment is limited to {MAX_COMMENT} characters")
    review = get_review(session, review_id)
    if review.signed_off_at is not None:
        raise ReviewClosed(f"access review {review.id} is signed off")
    items = items_of(session, review_id)
    item = next((candidate for candidate in items if candidate.position == position), None)
    if item is None:
        raise ReviewItemNotFound(f"access review {review.id} has no item {position}")
    _check_reviewer(session, item, acting_as)
    if item.decision == "revoke":
        raise ReviewClosed(f"item {position} is revoked already")
    decided = [item]
    version: int | None = None
    if decision == "revoke":
        siblings = [o for o in items if o is not item and _revoked_with(item, o)]
        kept = [o.position for o in siblings if o.decision == "keep"]
        if kept:
            raise GrantSharedWithKeptItem(
                f"revoking item {position} would also revoke kept item(s) "
                f"{', '.join(map(str, kept))}: the same grant gives them"
            )
        version = _revoke(session, review, item, comment, actor)
        decided += [o for o in siblings if o.decision is None]
    now = utcnow()
    for each in decided:
        each.decision = decision
        each.comment = comment if each is item else f"revoked with item {position}: {comment}"
        each.decided_by = actor[:255]
        each.decided_at = now
        each.revoked_in_version = version
    session.flush()
    record_event(
        session,
        event_type="compliance.access_review_decided",
        actor=actor,
        resource=f"compliance/reviews/{review.id}",
        details={
            "review_id": str(review.id),
            "items": [each.position for each in decided],
            "subject": item.subject,
            "rule": item.rule,
            "decision": decision,
            "policy_version": version,
            "comment": comment[:500],
        },
    )
    return decided


def _revoke(
    session: Session, review: AccessReview, item: AccessReviewItem, comment: str, actor: str
) -> int | None:
    """Remove the item's policy lines (a new policy version, audited and announced to every
    replica) and its account roles (the role assignment, audited); the new version or None."""
    version: int | None = None
    lines = _lines(item)
    if lines:
        current = policy_store.snapshot(session).lines
        reason = f"access review {review.id} item {item.position}: revoke ({comment})"
        change = policy_store.apply_policy(
            session,
            [line for line in current if line not in lines],
            actor=actor,
            reason=reason[: policy_store.MAX_REASON],
        )
        version = change.version if change is not None else None
    roles = _roles(item)
    if roles and item.subject.startswith(PERSON):
        user = accounts.get_user(session, UUID(item.subject.removeprefix(PERSON)))
        if user is not None:
            accounts.create_user(
                session, user.email, roles=[role for role in user.roles if role not in roles]
            )
    return version


def review_report(review: AccessReview, items: list[AccessReviewItem]) -> bytes:
    """The review as signed in its evidence artefact (canonical JSON)."""
    return canonical_json(
        {
            "review": review_summary(review),
            "items": [item_summary(item) for item in items],
        }
    ).encode()


def review_summary(review: AccessReview) -> dict[str, Any]:
    return {
        "id": str(review.id),
        "control": review.control_id,
        "scope": {"object": review.scope_object, "action": review.scope_action},
        "reviewer": review.reviewer,
        "policy_version": review.policy_version,
        "status": review.status,
        "opened_by": review.opened_by,
        "opened_at": review.opened_at.isoformat(),
        "signed_off_by": review.signed_off_by,
        "signed_off_at": review.signed_off_at.isoformat() if review.signed_off_at else None,
        "evidence_id": str(review.evidence_id) if review.evidence_id else None,
    }


def item_summary(item: AccessReviewItem) -> dict[str, Any]:
    return {
        "position": item.position,
        "subject": item.subject,
        "subject_label": item.subject_label,
        "domain": item.domain,
        "object": item.object,
        "action": item.action,
        "condition": item.condition,
        "rule": item.rule,
        "granted_by": item.granted_by,
        "denied_when": orjson.loads(item.denied_when),
        "reviewer": item.reviewer,
        "decision": item.decision,
        "comment": item.comment,
        "decided_by": item.decided_by,
        "decided_at": item.decided_at.isoformat() if item.decided_at else None,
        "revoked_in_version": item.revoked_in_version,
    }


def sign_off(
    session: Session, library: ControlLibrary, signer: Signer, review_id: UUID, *, actor: str
) -> EvidenceRecord:
    """Sign off a review whose every item is decided: an Ed25519-signed evidence record of the
    7.2.4 check (the review report as its artefact), linked to the ledger, and the report in
    the control's manual evidence slot."""
    review = get_review(session, review_id)
    if review.signed_off_at is not None:
        raise ReviewClosed(f"access review {review.id} is signed off already")
    items = items_of(session, review_id)
    open_items = [item.position for item in items if item.decision is None]
    if open_items:
        raise ReviewNotDecided(
            f"{len(open_items)} of {len(items)} items are not decided yet (first: {open_items[0]})"
        )
    now = utcnow()
    review.signed_off_at, review.signed_off_by = now, actor[:255]
    session.flush()
    report = review_report(review, items)
    check = load_all()[ACCESS_REVIEW_CHECK]
    result = dataclasses.replace(
        review_age(session, now, review_cadence(library)),
        artefacts=(Artefact(f"access-review-{review.id}.json", "application/json", report),),
        target=f"compliance/reviews/{review.id}",
    )
    record = record_evidence(
        session,
        signer,
        Outcome(check, result, now, utcnow()),
        collector=f"rampart-access-review@{socket.gethostname()}",
    )
    review.evidence_id = record.id
    _, control = library.control(review.control_id)
    if control.manual is not None:
        upload_manual_evidence(
            session,
            library,
            control_id=review.control_id,
            filename=f"access-review-{review.id}.json",
            media_type="application/json",
            content=report,
            owner=review.reviewer,
            actor=actor,
        )
    session.flush()
    record_event(
        session,
        event_type="compliance.access_review_signed_off",
        actor=actor,
        resource=f"compliance/reviews/{review.id}",
        details={
            "review_id": str(review.id),
            "evidence_id": str(record.id),
            "items": len(items),
            "revoked": sum(1 for item in items if item.decision == "revoke"),
        },
    )
    record_transitions(session, library, utcnow(), {review.control_id})
    return record


def open_review_if_due(
    session: Session, library: ControlLibrary, now: datetime, *, actor: str
) -> AccessReview | None:
    """A new review when none is open and the newest signed-off one is older than the
    control's frequency (or there is none); None otherwise."""
    if session.scalar(select(AccessReview.id).where(AccessReview.signed_off_at.is_(None))):
        return None
    newest = session.scalar(select(func.max(AccessReview.signed_off_at)))
    if newest is not None and review_cadence(library).expires(newest) > now:
        return None
    return start_review(session, library, actor=actor)
