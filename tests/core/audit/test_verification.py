"""verify: an intact ledger is OK; each kind of tampering is named at its first sequence number."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.audit.canonical import entry_hash, format_occurred_at
from core.audit.checkpoints import write_checkpoint_if_due
from core.audit.models import AuditEntry
from core.audit.signing import checkpoint_message
from core.audit.verification import ProblemKind, VerificationResult, _forkable, verify
from core.database import unit_of_work
from tests.core.audit.conftest import Ed25519Signer, append_events, tamper


def _ledger(sessions: sessionmaker[Session], signer: Ed25519Signer, count: int = 30) -> None:
    """``count`` entries with a checkpoint every 10."""
    for _ in range(count // 10):
        append_events(sessions, 10)
        with unit_of_work(sessions) as session:
            write_checkpoint_if_due(session, signer, 10, 3600)


@pytest.fixture(params=[1, 3], ids=["one-walk", "three-forked-ranges"])
def workers(request: pytest.FixtureRequest, sessions: sessionmaker[Session]) -> int:
    """Every tampering case is judged by the single walk and by three forked range walks
    (min_range=1 splits even these small ledgers), which must name the same problem."""
    if request.param > 1:
        with sessions() as session:
            assert _forkable(session), "the test database must allow forked range walks"
    return int(request.param)


def _verify(
    sessions: sessionmaker[Session], signer: Ed25519Signer, workers: int = 1
) -> VerificationResult:
    with sessions() as session:
        return verify(session, [signer.public_signing_key()], batch=7, workers=workers, min_range=1)


def test_an_intact_ledger_verifies(
    sessions: sessionmaker[Session], signer: Ed25519Signer, workers: int
) -> None:
    _ledger(sessions, signer)
    result = _verify(sessions, signer, workers)
    assert result.ok, result.problem
    assert (result.count, result.checkpoints_verified) == (30, 3)


def test_an_empty_ledger_verifies(
    sessions: sessionmaker[Session], signer: Ed25519Signer, workers: int
) -> None:
    result = _verify(sessions, signer, workers)
    assert result.ok
    assert result.count == 0


def test_a_changed_field_is_named_by_its_seq(
    engine: Engine, sessions: sessionmaker[Session], signer: Ed25519Signer, workers: int
) -> None:
    _ledger(sessions, signer)
    tamper(engine, "UPDATE audit_entries SET outcome = 'failure' WHERE seq = 17")
    result = _verify(sessions, signer, workers)
    assert not result.ok
    assert result.problem is not None
    assert (result.problem.seq, result.problem.kind) == (17, ProblemKind.CHANGED)
    assert result.count == 16
    assert str(result.problem) == ("at seq 17: changed (stored hash does not match its content)")


def test_changed_details_are_detected(
    engine: Engine, sessions: sessionmaker[Session], signer: Ed25519Signer, workers: int
) -> None:
    _ledger(sessions, signer)
    tamper(
        engine, "UPDATE audit_entries SET details = :forged WHERE seq = 3", forged='{"index":99}'
    )
    result = _verify(sessions, signer, workers)
    assert result.problem is not None
    assert (result.problem.seq, result.problem.kind) == (3, ProblemKind.CHANGED)


@pytest.mark.parametrize(("deleted", "expected_seq"), [(12, 12), (1, 1), (30, 30)])
def test_a_deleted_entry_is_named(
    engine: Engine,
    sessions: sessionmaker[Session],
    signer: Ed25519Signer,
    deleted: int,
    expected_seq: int,
    workers: int,
) -> None:
    _ledger(sessions, signer)
    tamper(engine, "DELETE FROM audit_entries WHERE seq = :seq", seq=deleted)
    result = _verify(sessions, signer, workers)
    assert result.problem is not None
    assert (result.problem.seq, result.problem.kind) == (expected_seq, ProblemKind.DELETED)


def test_a_deleted_tail_with_a_rewound_head_is_caught_by_the_checkpoint(
    engine: Engine, sessions: sessionmaker[Session], signer: Ed25519Signer, workers: int
) -> None:
    _ledger(sessions, signer)
    tamper(engine, "DELETE FROM audit_entries WHERE seq > 25")
    tamper(
        engine,
        "UPDATE audit_chain_head SET last_seq = 25, "
        "last_hash = (SELECT hash FROM audit_entries WHERE seq = 25)",
    )
    result = _verify(sessions, signer, workers)
    assert result.problem is not None
    assert (result.problem.seq, result.problem.kind) == (26, ProblemKind.DELETED)
    assert "checkpoint" in result.problem.reason


def test_swapped_entries_are_reported_as_reordered(
    engine: Engine, sessions: sessionmaker[Session], signer: Ed25519Signer, workers: int
) -> None:
    _ledger(sessions, signer)
    # Move entry 14 to seq 15 and vice versa, every column but seq exchanged.
    tamper(engine, "UPDATE audit_entries SET seq = -1 WHERE seq = 14")
    tamper(engine, "UPDATE audit_entries SET seq = 14 WHERE seq = 15")
    tamper(engine, "UPDATE audit_entries SET seq = 15 WHERE seq = -1")
    result = _verify(sessions, signer, workers)
    assert result.problem is not None
    assert (result.problem.seq, result.problem.kind) == (14, ProblemKind.REORDERED)
    assert "seq 15" in result.problem.reason


def test_a_rehashed_entry_is_named_where_it_was_changed(
    engine: Engine, sessions: sessionmaker[Session], signer: Ed25519Signer, workers: int
) -> None:
    """The attacker edits entry 22 and recomputes its hash; entry 23 no longer links to it."""
    _ledger(sessions, signer)
    with sessions() as session:
        row = session.get_one(AuditEntry, 22)
    forged = entry_hash(
        22,
        row.prev_hash,
        format_occurred_at(row.occurred_at),
        "user:mallory",
        row.event_type,
        row.outcome,
        row.origin,
        row.resource,
        row.request_id,
        row.details,
    )
    tamper(
        engine,
        "UPDATE audit_entries SET actor = 'user:mallory', hash = :forged WHERE seq = 22",
        forged=forged,
    )
    result = _verify(sessions, signer, workers)
    assert result.problem is not None
    assert (result.problem.seq, result.problem.kind) == (22, ProblemKind.CHANGED)


def test_a_forged_checkpoint_signature_is_detected(
    engine: Engine, sessions: sessionmaker[Session], signer: Ed25519Signer, workers: int
) -> None:
    _ledger(sessions, signer)
    tamper(
        engine,
        "UPDATE audit_checkpoints SET signature = :forged WHERE seq = 20",
        forged=Ed25519Signer().sign(b"anything"),
    )
    result = _verify(sessions, signer, workers)
    assert result.problem is not None
    assert (result.problem.seq, result.problem.kind) == (20, ProblemKind.BAD_CHECKPOINT_SIGNATURE)
    assert result.checkpoints_verified == 1


def test_checkpoints_signed_by_an_untrusted_key_fail(
    sessions: sessionmaker[Session], signer: Ed25519Signer
) -> None:
    _ledger(sessions, signer)
    with sessions() as session:
        result = verify(session, [Ed25519Signer().public_signing_key()])
    assert result.problem is not None
    assert (result.problem.seq, result.problem.kind) == (10, ProblemKind.BAD_CHECKPOINT_SIGNATURE)


def test_a_rewritten_chain_is_caught_by_the_signed_checkpoint(
    engine: Engine, sessions: sessionmaker[Session], signer: Ed25519Signer, workers: int
) -> None:
    """Entries 1..10 replaced by a consistent forged chain: only the signature can tell."""
    _ledger(sessions, signer)
    tamper(engine, "DELETE FROM audit_entries")
    tamper(engine, "DELETE FROM audit_chain_head")
    append_events(sessions, 30, actor="user:mallory")
    result = _verify(sessions, signer, workers)
    assert result.problem is not None
    assert (result.problem.seq, result.problem.kind) == (10, ProblemKind.CHECKPOINT_MISMATCH)


def test_a_checkpoint_replayed_onto_another_seq_fails_its_signature(
    engine: Engine, sessions: sessionmaker[Session], signer: Ed25519Signer, workers: int
) -> None:
    _ledger(sessions, signer)
    tamper(engine, "DELETE FROM audit_checkpoints WHERE seq = 30")
    tamper(
        engine,
        "UPDATE audit_checkpoints SET seq = 30, "
        "hash = (SELECT hash FROM audit_entries WHERE seq = 30) WHERE seq = 20",
    )
    result = _verify(sessions, signer, workers)
    assert result.problem is not None
    assert (result.problem.seq, result.problem.kind) == (30, ProblemKind.BAD_CHECKPOINT_SIGNATURE)


def test_the_signed_message_is_domain_separated() -> None:
    assert checkpoint_message(7, "ab" * 32) == b"rampart-audit-checkpoint/v1|7|" + b"ab" * 32


def test_verifying_while_others_append_never_reports_a_false_problem(
    sessions: sessionmaker[Session], signer: Ed25519Signer
) -> None:
    _ledger(sessions, signer, count=10)
    results: list[VerificationResult] = []

    def append_in_small_transactions() -> None:
        for _ in range(60):
            append_events(sessions, 2)

    appender = threading.Thread(target=append_in_small_transactions)
    appender.start()
    while appender.is_alive():
        results.append(_verify(sessions, signer))
    appender.join()
    results.append(_verify(sessions, signer))
    assert [r.problem for r in results if not r.ok] == []
    assert len(results) >= 2
    assert results[-1].count == 130


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 3, 1, 12, 0, 0, 0, tzinfo=UTC),
        datetime(2026, 3, 1, 12, 0, 0, 100_000, tzinfo=UTC),
        datetime(2026, 3, 1, 12, 0, 0, 123_450, tzinfo=UTC),
    ],
    ids=["whole-second", "one-digit-fraction", "trailing-zero"],
)
def test_times_whose_fraction_ends_in_zeros_verify(
    sessions: sessionmaker[Session],
    signer: Ed25519Signer,
    monkeypatch: pytest.MonkeyPatch,
    moment: datetime,
    workers: int,
) -> None:
    """The hash covers six digits of fraction; a driver or cast that drops trailing zeros
    (PostgreSQL's plain text of a time does) would make every such entry look changed."""
    monkeypatch.setattr("core.audit.service.utcnow", lambda: moment)
    append_events(sessions, 4)
    monkeypatch.undo()
    append_events(sessions, 2)
    result = _verify(sessions, signer, workers)
    assert result.ok, result.problem
    assert result.count == 6
