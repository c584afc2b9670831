"""Auditor engagements: a compliance officer opens one for an auditor account (frameworks, audit
period, expiry) and may revoke it; the dashboard reads the active one of its caller."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from uuid import UUID

import orjson
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from compliance.controls import ControlLibrary
from compliance.dashboard.models import AuditorEngagement
from core.audit.service import record_event
from core.clock import utcnow
from core.errors import BadRequest, NotFound


class InvalidEngagement(BadRequest):
    slug, title = "invalid-engagement", "Invalid audit engagement"


def open_engagement(
    session: Session,
    library: ControlLibrary,
    *,
    auditor: str,
    frameworks: Sequence[str],
    period_from: date,
    period_to: date,
    expires_at: datetime,
    actor: str,
) -> AuditorEngagement:
    """Give ``auditor`` (a user id) read access to ``frameworks`` over the period, until
    ``expires_at``; the ledger records it (ids and dates only)."""
    unknown = sorted(set(frameworks) - set(library.frameworks))
    if not frameworks or unknown:
        raise InvalidEngagement(f"unknown or no frameworks: {', '.join(unknown) or 'none given'}")
    if period_to < period_from:
        raise InvalidEngagement("the period ends before it starts")
    if expires_at <= utcnow():
        raise InvalidEngagement("the engagement would already have expired")
    engagement = AuditorEngagement(
        auditor=auditor,
        frameworks=orjson.dumps(sorted(set(frameworks))).decode(),
        period_from=period_from,
        period_to=period_to,
        expires_at=expires_at,
        created_by=actor,
    )
    session.add(engagement)
    session.flush()
    record_event(
        session,
        event_type="dashboard.engagement_opened",
        resource=f"dashboard/engagements/{engagement.id}",
        actor=actor,
        details={
            "engagement_id": str(engagement.id),
            "auditor": auditor,
            "frameworks": engagement.framework_ids,
            "period_from": period_from.isoformat(),
            "period_to": period_to.isoformat(),
            "expires_at": expires_at.isoformat(),
        },
    )
    return engagement


def revoke_engagement(session: Session, engagement_id: UUID, *, actor: str) -> AuditorEngagement:
    engagement = session.get(AuditorEngagement, engagement_id)
    if engagement is None:
        raise NotFound("no such engagement")
    if engagement.revoked_at is None:
        engagement.revoked_at = utcnow()
        session.flush()
        record_event(
            session,
            event_type="dashboard.engagement_revoked",
            resource=f"dashboard/engagements/{engagement.id}",
            actor=actor,
            details={"engagement_id": str(engagement.id)},
        )
    return engagement


def engagements(session: Session) -> list[AuditorEngagement]:
    query = select(AuditorEngagement).order_by(AuditorEngagement.created_at.desc())
    return list(session.scalars(query))


def active_engagement(session: Session, auditor: str, now: datetime) -> AuditorEngagement | None:
    """The auditor's newest engagement not revoked and not expired at ``now``."""
    query = (
        select(AuditorEngagement)
        .where(
            AuditorEngagement.auditor == auditor,
            AuditorEngagement.expires_at > now,
            AuditorEngagement.created_at <= now,
            or_(AuditorEngagement.revoked_at.is_(None), AuditorEngagement.revoked_at > now),
        )
        .order_by(AuditorEngagement.created_at.desc())
        .limit(1)
    )
    return session.scalars(query).first()
