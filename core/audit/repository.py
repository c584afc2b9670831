"""Queries of the audit ledger: the chain head under lock, checkpoints, recent entries.

Statements are built once at import: appending is hot, and building SQLAlchemy expressions
per call cost more than executing them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, SessionTransaction

from core.audit.canonical import GENESIS_HASH
from core.audit.models import AuditChainHead, AuditCheckpoint, AuditEntry

HEAD_ID = 1
_HEAD_CACHE_KEY = "rampart.audit.head"

_read_head = select(AuditChainHead.last_seq, AuditChainHead.last_hash).where(
    AuditChainHead.id == HEAD_ID
)
_lock_head = _read_head.with_for_update()
# Core statements on the tables, run on the session's connection: the ORM bulk paths (and their
# session synchronization) are not needed for rows the session does not track.
_head_table: Table = AuditChainHead.__table__  # type: ignore[assignment]
_entry_table: Table = AuditEntry.__table__  # type: ignore[assignment]
_advance_head = (
    update(_head_table)
    .where(_head_table.c.id == HEAD_ID)
    .values(last_seq=bindparam("seq"), last_hash=bindparam("entry_hash"))
)
_insert_entry = insert(_entry_table)
_last_entry = select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)


def lock_chain_head(session: Session) -> tuple[int, str]:
    """Last (seq, hash), locked until the transaction ends so appenders from every process
    take turns and the chain stays linear (SQLite: the ``BEGIN IMMEDIATE`` lock does it).

    Within one transaction the lock is already ours, so the head is remembered per
    (innermost) transaction: a rolled-back savepoint is a different transaction and re-reads.
    """
    transaction = _innermost_transaction(session)
    cached = session.info.get(_HEAD_CACHE_KEY)
    if cached is not None and cached[0] is transaction:
        return cached[1], cached[2]
    row = session.connection().execute(_lock_head).one_or_none()
    if row is None:
        _create_chain_head(session)
        row = session.connection().execute(_lock_head).one()
    return int(row[0]), str(row[1])


def append_entries(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert consecutive entries (one executemany) and move the head to the last one; the
    caller holds the head lock."""
    connection = session.connection()
    connection.execute(_insert_entry, rows if len(rows) > 1 else rows[0])
    last = rows[-1]
    connection.execute(_advance_head, {"seq": last["seq"], "entry_hash": last["hash"]})
    session.info[_HEAD_CACHE_KEY] = (_innermost_transaction(session), last["seq"], last["hash"])


def _innermost_transaction(session: Session) -> SessionTransaction | None:
    return session.get_nested_transaction() or session.get_transaction()


def _create_chain_head(session: Session) -> None:
    """Create the head from the last stored entry (or the genesis), racing appenders tolerated."""
    last = session.execute(_last_entry).one_or_none()
    values = {
        "id": HEAD_ID,
        "last_seq": int(last[0]) if last else 0,
        "last_hash": str(last[1]) if last else GENESIS_HASH,
    }
    if session.get_bind().dialect.name == "postgresql":
        pg_insert = postgresql.insert(AuditChainHead).values(values)
        session.execute(pg_insert.on_conflict_do_nothing(index_elements=["id"]))
    else:
        lite_insert = sqlite.insert(AuditChainHead).values(values)
        session.execute(lite_insert.on_conflict_do_nothing(index_elements=["id"]))


def read_chain_head(session: Session) -> tuple[int, str] | None:
    row = session.execute(_read_head).one_or_none()
    return (int(row[0]), str(row[1])) if row else None


def last_checkpoint(session: Session) -> AuditCheckpoint | None:
    return session.scalars(
        select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc()).limit(1)
    ).first()


def entry_hashes_at(session: Session, seqs: list[int]) -> dict[int, str]:
    if not seqs:
        return {}
    rows = session.execute(select(AuditEntry.seq, AuditEntry.hash).where(AuditEntry.seq.in_(seqs)))
    return {int(seq): str(entry_hash) for seq, entry_hash in rows}


def seq_holding_hash(session: Session, entry_hash: str) -> int | None:
    """Where an entry with this hash is stored now (diagnoses reordering; a full scan, rare)."""
    return session.scalar(select(func.min(AuditEntry.seq)).where(AuditEntry.hash == entry_hash))


def recent_entries(session: Session, limit: int) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)))
