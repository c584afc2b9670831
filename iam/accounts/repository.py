"""Queries of the accounts tables (flush only; the caller's unit of work commits)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, selectinload

from iam.accounts.models import PasswordHistory, Role, User


def get_user(db: Session, user_id: UUID) -> User | None:
    return db.scalars(
        select(User).where(User.id == user_id).options(selectinload(User.role_rows))
    ).one_or_none()


def get_user_by_email(db: Session, email: str) -> User | None:
    return db.scalars(
        select(User).where(User.email == email).options(selectinload(User.role_rows))
    ).one_or_none()


def list_users(db: Session, *, status: str | None = None) -> Sequence[User]:
    query = select(User).options(selectinload(User.role_rows)).order_by(User.email)
    if status is not None:
        query = query.where(User.status == status)
    return db.scalars(query).all()


def get_role(db: Session, name: str) -> Role | None:
    return db.get(Role, name)


def get_roles(db: Session, names: Sequence[str]) -> Sequence[Role]:
    if not names:
        return []
    return db.scalars(select(Role).where(Role.name.in_(names))).all()


def get_login_account(
    db: Session, *, email: str | None = None, user_id: UUID | None = None
) -> User | None:
    """The account a login names, roles not loaded: one statement whether it exists or not
    (a login's timing must not tell)."""
    query = select(User).where(User.email == email if user_id is None else User.id == user_id)
    return db.scalars(query).one_or_none()


def increment_failed_logins(db: Session, user_id: UUID) -> int:
    """Atomically add one failed login; returns the new count (no lost updates under load)."""
    count = count_failed_login(db, user_id)
    if count is None:
        raise LookupError(f"no user {user_id}")
    return count


def count_failed_login(db: Session, user_id: UUID) -> int | None:
    """:func:`increment_failed_logins`, None when no such user (the same statement either way)."""
    count = db.execute(
        update(User)
        .where(User.id == user_id)
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    return None if count is None else int(count)


def password_history(db: Session, user_id: UUID) -> Sequence[PasswordHistory]:
    """Newest first."""
    return db.scalars(
        select(PasswordHistory)
        .where(PasswordHistory.user_id == user_id)
        .order_by(PasswordHistory.created_at.desc(), PasswordHistory.id.desc())
    ).all()


def prune_password_history(db: Session, user_id: UUID, keep: int) -> None:
    rows = password_history(db, user_id)
    stale = [row.id for row in rows[keep:]]
    if stale:
        db.execute(delete(PasswordHistory).where(PasswordHistory.id.in_(stale)))


def inactive_users(db: Session, *, last_activity_before: datetime, limit: int) -> Sequence[User]:
    """Active users whose last login (or creation, if they never logged in) is older than the
    cut-off."""
    last_activity = func.coalesce(User.last_login_at, User.created_at)
    return db.scalars(
        select(User)
        .where(User.status == "active", last_activity < last_activity_before)
        .order_by(User.id)
        .limit(limit)
    ).all()


def users_with_role(db: Session, role_name: str) -> Sequence[User]:
    return db.scalars(
        select(User).where(User.role_rows.any(Role.name == role_name)).order_by(User.email)
    ).all()


def delete_user(db: Session, user_id: UUID) -> None:
    """One DELETE; the database cascades to roles, history, sessions, factors and grants."""
    db.execute(delete(User).where(User.id == user_id))
