"""Queries of the login-session table that other packages need (accounts, MFA, jobs): below
every service, so ending a user's sessions never imports the sessions service."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, or_, update
from sqlalchemy.orm import Session

from core.clock import utcnow
from iam.sessions.models import LoginSession


def end_all_sessions(db: Session, user_id: UUID) -> int:
    """End every live session of a user (disabled account, MFA reset); returns how many."""
    result = db.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
        .values(ended_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def purge_ended_sessions(db: Session, *, older_than: datetime) -> int:
    """Delete sessions ended or expired before ``older_than`` (housekeeping)."""
    result = db.execute(
        delete(LoginSession).where(
            or_(LoginSession.ended_at < older_than, LoginSession.expires_at < older_than)
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
