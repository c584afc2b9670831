"""Queries on the data-key registry; flushes, never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import CursorResult, Row, func, select, update
from sqlalchemy.orm import Session

from core.kms.models import DataKey


def get_data_key(session: Session, key_id: UUID) -> DataKey | None:
    return session.get(DataKey, key_id)


def keys_to_rewrap(
    session: Session, *, below_version: int, after: UUID | None, limit: int
) -> Sequence[Row[UUID, str, bytes | None, int]]:
    """Live keys wrapped under an older KEK version, in id order after ``after`` (keyset paging,
    so a key that keeps failing never stalls the walk)."""
    query = (
        select(DataKey.id, DataKey.purpose, DataKey.wrapped, DataKey.kek_version)
        .where(DataKey.destroyed_at.is_(None), DataKey.kek_version < below_version)
        .order_by(DataKey.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(DataKey.id > after)
    return session.execute(query).all()


def replace_wrapped(
    session: Session,
    key_id: UUID,
    *,
    expected_version: int,
    wrapped: bytes,
    kek_version: int,
    rotated_at: datetime,
) -> bool:
    """Store a rewrapped key unless someone destroyed or rewrapped it meanwhile."""
    result = cast(
        CursorResult[Any],
        session.execute(
            update(DataKey)
            .where(
                DataKey.id == key_id,
                DataKey.kek_version == expected_version,
                DataKey.destroyed_at.is_(None),
            )
            .values(wrapped=wrapped, kek_version=kek_version, rotated_at=rotated_at)
            .execution_options(synchronize_session="fetch")
        ),
    )
    return result.rowcount == 1


def count_live_by_kek_version(session: Session) -> dict[int, int]:
    rows = session.execute(
        select(DataKey.kek_version, func.count())
        .where(DataKey.destroyed_at.is_(None))
        .group_by(DataKey.kek_version)
        .order_by(DataKey.kek_version)
    ).all()
    return {int(version): int(count) for version, count in rows}


def count_destroyed(session: Session) -> int:
    query = select(func.count()).select_from(DataKey).where(DataKey.destroyed_at.is_not(None))
    return int(session.execute(query).scalar_one())


def count_to_rewrap(session: Session, *, below_version: int) -> int:
    query = (
        select(func.count())
        .select_from(DataKey)
        .where(DataKey.destroyed_at.is_(None), DataKey.kek_version < below_version)
    )
    return int(session.execute(query).scalar_one())
