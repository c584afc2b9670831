"""Re-verifies the ledger: recomputes every hash in seq order, follows the links, checks the
signed checkpoints against trusted keys, and names the first problem."""

from __future__ import annotations

import hashlib
from collections.abc import Generator, Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import Select, String, literal_column, select
from sqlalchemy.orm import Session

from core.audit import repository
from core.audit.canonical import GENESIS_HASH
from core.audit.models import AuditCheckpoint, AuditEntry
from core.audit.signing import TrustedKeys
from core.errors import DatabaseUnavailable


class ProblemKind(StrEnum):
    CHANGED = "changed"
    DELETED = "deleted"
    REORDERED = "reordered"
    BAD_CHECKPOINT_SIGNATURE = "bad_checkpoint_signature"
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


@dataclass(frozen=True, slots=True)
class Problem:
    seq: int
    kind: ProblemKind
    reason: str

    def __str__(self) -> str:
        return f"at seq {self.seq}: {self.kind.label} ({self.reason})"


@dataclass(frozen=True, slots=True)
class VerificationResult:
    count: int
    checkpoints_verified: int
    problem: Problem | None
    last_hash: str

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True, slots=True)
class _Checkpoint:
    seq: int
    hash: str
    signature: bytes
    key_fingerprint: str


def verify(
    session: Session, public_keys: Iterable[bytes], *, batch: int = 20_000
) -> VerificationResult:
    """Verify the whole ledger; the first problem (lowest seq) ends the walk."""
    # Checkpoints, then the head, then entries up to the head: anything committed meanwhile by
    # concurrent appenders lies beyond what is read, so a live ledger verifies cleanly.
    checkpoints = [
        _Checkpoint(int(seq), str(h), bytes(sig), str(fp))
        for seq, h, sig, fp in session.execute(
            select(
                AuditCheckpoint.seq,
                AuditCheckpoint.hash,
                AuditCheckpoint.signature,
                AuditCheckpoint.key_fingerprint,
            ).order_by(AuditCheckpoint.seq)
        )
    ]
    head = repository.read_chain_head(session)
    head_seq = head[0] if head else None
    walk = _ChainWalk(session, TrustedKeys(public_keys), checkpoints)
    with closing(stream_entries(session, after_seq=0, through_seq=head_seq, batch=batch)) as rows:
        result = walk.run(rows, first_seq=1, prev_hash=GENESIS_HASH)
    if result.problem or head is None:
        return result
    return _check_tail(result, head, checkpoints)


def verify_segment(
    session: Session, *, after_seq: int, after_hash: str, through_seq: int
) -> Problem | None:
    """Check entries ``after_seq+1 .. through_seq`` link on from ``after_hash`` (before signing)."""
    walk = _ChainWalk(session, TrustedKeys(()), [])
    entries = stream_entries(session, after_seq=after_seq, through_seq=through_seq, batch=20_000)
    with closing(entries) as rows:
        result = walk.run(rows, first_seq=after_seq + 1, prev_hash=after_hash)
    if result.problem is None and result.count != through_seq - after_seq:
        return Problem(after_seq + result.count + 1, ProblemKind.DELETED, "the entry is missing")
    return result.problem


def _check_tail(
    result: VerificationResult, head: tuple[int, str], checkpoints: Sequence[_Checkpoint]
) -> VerificationResult:
    head_seq, head_hash = head
    problem: Problem | None = None
    beyond = [cp.seq for cp in checkpoints if cp.seq > result.count]
    if result.count < head_seq:
        problem = Problem(
            result.count + 1,
            ProblemKind.DELETED,
            f"the entry is missing; the chain head records {head_seq} entries",
        )
    elif beyond:
        problem = Problem(
            result.count + 1,
            ProblemKind.DELETED,
            f"the entry is missing; a checkpoint was signed at seq {beyond[0]}",
        )
    elif head_seq and head_hash != result.last_hash:
        problem = Problem(
            head_seq, ProblemKind.CHANGED, "the chain head records a different hash for it"
        )
    if problem is None:
        return result
    return VerificationResult(result.count, result.checkpoints_verified, problem, result.last_hash)


def stream_entries(
    session: Session, *, after_seq: int, through_seq: int | None, batch: int
) -> Generator[Sequence[Any], None, None]:
    """Entry tuples in seq order, straight from the driver inside the session's transaction.

    SQLAlchemy's result rows cost more than the hashing itself; a server-side cursor
    (PostgreSQL) or the SQLite cursor streams plain tuples in ``batch``-sized chunks.
    """
    dialect = session.get_bind().dialect
    query = _entry_tuples(dialect.name).where(AuditEntry.seq > after_seq)
    if through_seq is not None:
        query = query.where(AuditEntry.seq <= through_seq)
    # The only literals are the integer bounds above, so inlining them is safe.
    sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    driver_connection = session.connection().connection.dbapi_connection
    if driver_connection is None:
        raise DatabaseUnavailable("the database connection was closed")
    if dialect.name == "postgresql":
        cursor = driver_connection.cursor(name="rampart_audit_verify")
    else:
        cursor = driver_connection.cursor()
    try:
        cursor.execute(sql)
        while chunk := cursor.fetchmany(batch):
            yield from chunk
    finally:
        cursor.close()


def _entry_tuples(dialect: str) -> Select[*tuple[Any, ...]]:
    # Both backends hand over the time as text 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC); the walk
    # turns it into the hashed form, so no datetime object is built per row.
    if dialect == "postgresql":
        occurred_at = literal_column(
            "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')", String
        )
    else:
        # SQLAlchemy's SQLite storage format for datetimes already is exactly that.
        occurred_at = literal_column("occurred_at", String)
    return select(
        AuditEntry.seq,
        occurred_at,
        AuditEntry.actor,
        AuditEntry.event_type,
        AuditEntry.outcome,
        AuditEntry.origin,
        AuditEntry.resource,
        AuditEntry.request_id,
        AuditEntry.details,
        AuditEntry.prev_hash,
        AuditEntry.hash,
    ).order_by(AuditEntry.seq)


class _ChainWalk:
    def __init__(
        self, session: Session, keys: TrustedKeys, checkpoints: Sequence[_Checkpoint]
    ) -> None:
        self.session = session
        self.keys = keys
        self.checkpoints = {cp.seq: cp for cp in checkpoints}

    def run(
        self, rows: Iterable[Sequence[Any]], *, first_seq: int, prev_hash: str
    ) -> VerificationResult:
        expected = first_seq
        checkpoints = self.checkpoints
        verified = 0
        sha256, dumps, fragment = hashlib.sha256, orjson.dumps, orjson.Fragment
        # The loop body is canonical.canonical_entry inlined: this is the hot path.
        for (
            seq,
            at,
            actor,
            event,
            outcome,
            origin,
            resource,
            request,
            details,
            prev,
            stored,
        ) in rows:
            computed = sha256(
                dumps(
                    {
                        "actor": actor,
                        "details": fragment(details),
                        "event_type": event,
                        "occurred_at": at.replace(" ", "T") + "Z",
                        "origin": origin,
                        "outcome": outcome,
                        "prev_hash": prev,
                        "request_id": request,
                        "resource": resource,
                        "seq": seq,
                    }
                )
            ).hexdigest()
            if seq != expected or prev != prev_hash or computed != stored:
                problem = self._diagnose(seq, expected, prev, prev_hash, computed == stored)
                return VerificationResult(expected - first_seq, verified, problem, prev_hash)
            if seq in checkpoints:
                bad_checkpoint = self._check_checkpoint(checkpoints[seq], stored)
                if bad_checkpoint:
                    return VerificationResult(
                        expected - first_seq, verified, bad_checkpoint, prev_hash
                    )
                verified += 1
            prev_hash = stored
            expected += 1
        return VerificationResult(expected - first_seq, verified, None, prev_hash)

    def _diagnose(
        self, seq: int, expected: int, prev: str, prev_hash: str, content_intact: bool
    ) -> Problem:
        if seq != expected:
            return Problem(expected, ProblemKind.DELETED, "the entry is missing")
        if prev == prev_hash:
            return Problem(seq, ProblemKind.CHANGED, "stored hash does not match its content")
        # The link is broken: the entry follows another one (moved), or the previous entry
        # was rewritten along with its hash.
        holder = repository.seq_holding_hash(self.session, prev)
        if holder is not None and holder != seq - 1:
            return Problem(
                seq, ProblemKind.REORDERED, f"it belongs after the entry stored at seq {holder}"
            )
        if content_intact and seq > 1:
            return Problem(
                seq - 1,
                ProblemKind.CHANGED,
                f"its hash was rewritten; entry {seq} links to a different hash",
            )
        return Problem(seq, ProblemKind.CHANGED, "previous hash does not match the chain")

    def _check_checkpoint(self, checkpoint: _Checkpoint, entry_hash: str) -> Problem | None:
        if not self.keys.verify(
            checkpoint.seq, checkpoint.hash, checkpoint.signature, checkpoint.key_fingerprint
        ):
            return Problem(
                checkpoint.seq,
                ProblemKind.BAD_CHECKPOINT_SIGNATURE,
                "no trusted key verifies the checkpoint signature",
            )
        if checkpoint.hash != entry_hash:
            return Problem(
                checkpoint.seq,
                ProblemKind.CHECKPOINT_MISMATCH,
                "the signed checkpoint records a different hash for this entry",
            )
        return None
