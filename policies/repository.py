"""Queries over policy versions and lines (flush only; the caller's unit of work commits)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from policies.models import PolicyLine, PolicyVersion


def head_version(db: Session) -> int:
    """The newest version number, 0 when the store is empty."""
    return int(db.execute(select(func.coalesce(func.max(PolicyVersion.version), 0))).scalar_one())


def lock_head(db: Session) -> PolicyVersion | None:
    """The newest version row, locked (PostgreSQL) so concurrent writers queue behind it."""
    return db.execute(
        select(PolicyVersion).order_by(PolicyVersion.version.desc()).limit(1).with_for_update()
    ).scalar_one_or_none()


def get_version(db: Session, version: int) -> PolicyVersion | None:
    return db.get(PolicyVersion, version)


def list_versions(db: Session, limit: int) -> Sequence[PolicyVersion]:
    return (
        db.execute(select(PolicyVersion).order_by(PolicyVersion.version.desc()).limit(limit))
        .scalars()
        .all()
    )


def live_lines(db: Session, version: int | None = None) -> list[PolicyLine]:
    """Lines live at ``version`` (default: the head), in the order they were added."""
    query = select(PolicyLine)
    if version is None:
        query = query.where(PolicyLine.removed_in.is_(None))
    else:
        query = query.where(
            PolicyLine.added_in <= version,
            or_(PolicyLine.removed_in.is_(None), PolicyLine.removed_in > version),
        )
    return list(db.execute(query.order_by(PolicyLine.id)).scalars())


def lines_added_after(db: Session, version: int) -> list[str]:
    """Lines live now that were not live at ``version``... or were, under another row."""
    return list(
        db.execute(
            select(PolicyLine.line)
            .where(PolicyLine.added_in > version, PolicyLine.removed_in.is_(None))
            .order_by(PolicyLine.id)
        ).scalars()
    )


def lines_removed_after(db: Session, version: int) -> list[str]:
    """Lines live at ``version`` that a later version removed."""
    return list(
        db.execute(
            select(PolicyLine.line)
            .where(
                PolicyLine.added_in <= version,
                PolicyLine.removed_in.is_not(None),
                PolicyLine.removed_in > version,
            )
            .order_by(PolicyLine.id)
        ).scalars()
    )


def add_version(db: Session, row: PolicyVersion) -> None:
    db.add(row)
    db.flush()


def add_lines(db: Session, lines: Sequence[str], version: int) -> None:
    if lines:
        db.execute(
            insert(PolicyLine),  # one executemany instead of an ORM flush per line
            [{"line": line, "added_in": version} for line in lines],
        )


def remove_lines(db: Session, row_ids: Sequence[int], version: int) -> None:
    # Chunked: SQLite caps the number of bound parameters per statement.
    for start in range(0, len(row_ids), 500):
        chunk = row_ids[start : start + 500]
        db.execute(update(PolicyLine).where(PolicyLine.id.in_(chunk)).values(removed_in=version))
