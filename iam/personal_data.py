"""What the IdP holds about one person, for a GDPR access copy (compliance.gdpr.connectors.iam):
login sessions and OAuth refresh families, by ids, clients and times; never hashes or secrets."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from iam.oauth2.models import RefreshFamily
from iam.sessions.models import LoginSession


def sessions_of_user(db: Session, user_id: UUID) -> list[dict[str, Any]]:
    rows = db.execute(
        select(LoginSession)
        .where(LoginSession.user_id == user_id)
        .order_by(LoginSession.created_at)
    ).scalars()
    return [
        {
            "id": str(row.id),
            "state": row.state,
            "methods": list(row.amr),
            "created_at": row.created_at.isoformat(),
            "last_seen_at": row.last_seen_at.isoformat(),
            "expires_at": row.expires_at.isoformat(),
            "ended_at": row.ended_at.isoformat() if row.ended_at else None,
        }
        for row in rows
    ]


def grants_of_user(db: Session, user_id: UUID) -> list[dict[str, Any]]:
    rows = db.execute(
        select(RefreshFamily)
        .where(RefreshFamily.user_id == user_id)
        .order_by(RefreshFamily.created_at)
    ).scalars()
    return [
        {
            "id": str(row.id),
            "client_id": row.client_id,
            "scope": row.scope,
            "created_at": row.created_at.isoformat(),
            "expires_at": row.expires_at.isoformat(),
            "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        }
        for row in rows
    ]
