"""Claims about a user released by scope, for ID tokens and the userinfo endpoint (read through
the accounts service, never its tables)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session


def user_claims(db: Session, user_id: UUID, scope: str) -> dict[str, Any] | None:
    """None when the user no longer exists or is not active (their tokens stop working)."""
    from iam.accounts.service import get_user

    user = get_user(db, user_id)
    if user is None or getattr(user, "status", "active") != "active":
        return None
    scopes = set(scope.split())
    claims: dict[str, Any] = {"sub": str(user_id)}
    if "email" in scopes:
        claims["email"] = user.email
        claims["email_verified"] = bool(getattr(user, "email_verified", False))
    if "profile" in scopes:
        name = getattr(user, "name", None)
        if name:
            claims["name"] = name
        updated_at = getattr(user, "updated_at", None)
        if updated_at is not None:
            claims["updated_at"] = int(updated_at.timestamp())
    return claims
