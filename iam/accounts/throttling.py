"""Failure throttling: too many failures under one key within a window block that key for a
while. Logins use it per source (client address); the device verification page per account
(wrong user codes). Counters live in the database, so every replica sees them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.settings import get_settings
from iam.accounts.models import LoginThrottle

MAX_SOURCE_LENGTH = 100


def source_key(client_address: str | None) -> str:
    return f"ip:{client_address or 'unknown'}"[:MAX_SOURCE_LENGTH]


def is_blocked(db: Session, key: str, now: datetime) -> bool:
    row = db.get(LoginThrottle, key)
    return row is not None and row.blocked_until is not None and row.blocked_until > now


def record_source_failure(db: Session, source: str, now: datetime) -> bool:
    """Count one failed login from ``source``; True when the source is (now) blocked."""
    settings = get_settings()
    return record_failure(
        db,
        source,
        now,
        limit=settings.login_throttle_failures,
        window=timedelta(seconds=settings.login_throttle_window_seconds),
    )


def record_failure(db: Session, key: str, now: datetime, *, limit: int, window: timedelta) -> bool:
    """Count one failure under ``key``; at ``limit`` failures within ``window`` the key is
    blocked for ``window``. True when the key is (now) blocked."""
    _ensure_row(db, key, now)
    row = db.scalars(
        select(LoginThrottle)
        .where(LoginThrottle.source == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if row.window_started_at <= now - window:
        row.failures = 0
        row.window_started_at = now
    row.failures += 1
    if row.failures >= limit:
        row.blocked_until = now + window
    db.flush()
    return row.blocked_until is not None and row.blocked_until > now


def _ensure_row(db: Session, source: str, now: datetime) -> None:
    # Insert-or-ignore, so two first failures from one source never collide on the primary key.
    values = {"source": source, "failures": 0, "window_started_at": now}
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        db.execute(pg_insert(LoginThrottle).values(values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        db.execute(sqlite_insert(LoginThrottle).values(values).on_conflict_do_nothing())
    elif db.get(LoginThrottle, source) is None:
        db.add(LoginThrottle(**values))
        db.flush()
