"""Re-verifies the ledger: recomputes every hash in seq order, follows the links, checks the
signed checkpoints against trusted keys, and names the first problem."""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
from collections.abc import Generator, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
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
    session: Session,
    public_keys: Iterable[bytes],
    *,
    batch: int = 20_000,
    workers: int = 1,
    min_range: int = 100_000,
) -> VerificationResult:
    """Verify the whole ledger; the first problem (lowest seq) ends the walk.

    With ``workers`` > 1 a ledger of at least ``min_range`` entries per worker is split into
    that many contiguous seq ranges, each walked by a forked process on its own connection
    (:func:`_walk_ranges`); the answer is the same as the single walk's."""
    keys = list(public_keys)
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
    walk = _ChainWalk(session, TrustedKeys(keys), checkpoints)
    ranges = _ranges(head_seq or 0, workers, min_range) if _forkable(session) else []
    if len(ranges) > 1:
        result = _walk_ranges(session, walk, keys, checkpoints, ranges, batch)
    else:
        entries = stream_entries(session, after_seq=0, through_seq=head_seq, batch=batch)
        with closing(entries) as rows:
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


def _ranges(head_seq: int, workers: int, min_range: int) -> list[tuple[int, int]]:
    """``(after_seq, through_seq)`` of up to ``workers`` contiguous ranges covering 1..head."""
    count = min(workers, head_seq // max(min_range, 1))
    if count < 2:
        return []
    bounds = [head_seq * i // count for i in range(count + 1)]
    return list(itertools.pairwise(bounds))


def _forkable(session: Session) -> bool:
    """Other processes can open the same database (not an in-memory SQLite) and fork exists."""
    url = session.get_bind().engine.url
    in_memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
    return not in_memory and "fork" in multiprocessing.get_all_start_methods()


@dataclass(frozen=True, slots=True)
class _RangeResult:
    first_seq: int
    seed: str | None
    """The stored ``prev_hash`` of ``first_seq`` (None when it is missing): the range is walked
    from it, and the seam with the range before is checked against it by the parent."""
    result: VerificationResult


def _walk_range(
    url: str, keys: list[bytes], checkpoints: list[_Checkpoint], bounds: tuple[int, int], batch: int
) -> _RangeResult:
    """In a forked worker: walk ``bounds`` on a connection of its own."""
    from core.database import build_engine

    after_seq, through_seq = bounds
    # Read-only: on SQLite a plain BEGIN (a snapshot), never the write lock.
    engine = build_engine(url, pool_size=1, max_overflow=0).execution_options(
        rampart_read_only=True
    )
    try:
        with Session(engine) as session:
            seed = session.scalar(
                select(AuditEntry.prev_hash).where(AuditEntry.seq == after_seq + 1)
            )
            walk = _ChainWalk(session, TrustedKeys(keys), checkpoints)
            entries = stream_entries(
                session, after_seq=after_seq, through_seq=through_seq, batch=batch
            )
            with closing(entries) as rows:
                result = walk.run(rows, first_seq=after_seq + 1, prev_hash=seed or GENESIS_HASH)
    finally:
        engine.dispose()
    return _RangeResult(after_seq + 1, seed, result)


def _walk_ranges(
    session: Session,
    walk: _ChainWalk,
    keys: list[bytes],
    checkpoints: Sequence[_Checkpoint],
    ranges: Sequence[tuple[int, int]],
    batch: int,
) -> VerificationResult:
    """Each range walked in a forked process, then joined in seq order exactly as the single
    walk would have met them: a range's first link is checked here against the previous
    range's last hash, and the first problem (in seq order) ends the join."""
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=len(ranges), mp_context=context) as pool:
        futures = [
            pool.submit(
                _walk_range,
                url,
                keys,
                [cp for cp in checkpoints if after < cp.seq <= through],
                (after, through),
                batch,
            )
            for after, through in ranges
        ]
        parts = [future.result() for future in futures]
    count, verified, prev_hash = 0, 0, GENESIS_HASH
    for part in parts:
        result = part.result
        if part.seed is not None and part.seed != prev_hash:
            # The single walk would have stopped at this link: diagnose it the same way.
            intact = not (result.problem and result.problem.seq == part.first_seq)
            problem = walk.diagnose_link(part.first_seq, part.seed, prev_hash, intact)
            return VerificationResult(count, verified, problem, prev_hash)
        count += result.count
        verified += result.checkpoints_verified
        if result.problem is not None:
            return VerificationResult(count, verified, result.problem, result.last_hash)
        prev_hash = result.last_hash
    return VerificationResult(count, verified, None, prev_hash)


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
        setting = driver_connection.cursor()
        try:
            # The time's text form follows DateStyle: make it ISO whatever the server's default.
            setting.execute("SET LOCAL datestyle TO 'ISO, YMD'")
        finally:
            setting.close()
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
    # Both backends hand over the time as text 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTC); the walk
    # turns it into the hashed form (canonical.hashed_occurred_at), so no datetime object is
    # built per row. PostgreSQL's cast is a third faster than to_char, and drops trailing zeros.
    if dialect == "postgresql":
        occurred_at = literal_column("(occurred_at AT TIME ZONE 'UTC')::text", String)
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
                        # canonical.hashed_occurred_at, inlined
                        "occurred_at": (
                            at
                            if len(at) == 26
                            else at + ".000000"
                            if len(at) == 19
                            else at.ljust(26, "0")
                        ).replace(" ", "T")
                        + "Z",
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

    def diagnose_link(self, seq: int, prev: str, prev_hash: str, content_intact: bool) -> Problem:
        """Entry ``seq`` is present but links to ``prev`` where the chain holds ``prev_hash``."""
        return self._diagnose(seq, seq, prev, prev_hash, content_intact)

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
