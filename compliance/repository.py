"""Reads of stored evidence and waivers for the API and the CLI."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.models import EvidenceRecord, Waiver


def evidence_of_checks(
    session: Session, check_ids: Iterable[str], limit: int
) -> list[EvidenceRecord]:
    """The newest ``limit`` evidence records of ``check_ids``, newest first."""
    ids = sorted(set(check_ids))
    if not ids:
        return []
    query = (
        select(EvidenceRecord)
        .where(EvidenceRecord.check_id.in_(ids))
        .order_by(EvidenceRecord.finished_at.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def waivers(session: Session, *, active_at: datetime | None = None) -> list[Waiver]:
    query = select(Waiver).order_by(Waiver.created_at.desc())
    if active_at is not None:
        query = query.where(Waiver.revoked_at.is_(None), Waiver.expires_at > active_at)
    return list(session.scalars(query))
