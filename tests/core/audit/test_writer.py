"""The group-commit writer: many callers, few transactions, one valid chain, each entry committed
before its caller is released; secrets refused in the caller; a failed batch fails its callers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import context
from core.audit.models import AuditEntry
from core.audit.service import prepare_event, record_event
from core.audit.verification import verify
from core.audit.writer import AuditWriter
from core.database import build_engine, unit_of_work
from core.errors import DatabaseUnavailable, SecretRefused

CALLERS = 16
EVENTS_PER_CALLER = 40


@pytest.fixture
def writer(sessions: sessionmaker[Session]) -> Iterator[AuditWriter]:
    audit_writer = AuditWriter(sessions)
    yield audit_writer
    audit_writer.close()


def _append_and_check_visible(
    writer: AuditWriter, sessions: sessionmaker[Session], caller: int
) -> list[int]:
    seqs = []
    for index in range(EVENTS_PER_CALLER):
        event = prepare_event(
            event_type="test.grouped",
            actor=f"caller:{caller}",
            resource=f"item:{index}",
            details={"caller": caller, "index": index},
        )
        seq = writer.submit(event).result(60)
        # Released only once committed: a fresh transaction already sees the entry.
        with sessions() as session:
            stored = session.get(AuditEntry, seq)
            assert stored is not None
            assert stored.actor == f"caller:{caller}"
        seqs.append(seq)
    return seqs


def test_concurrent_callers_share_transactions_and_keep_one_valid_chain(
    writer: AuditWriter, sessions: sessionmaker[Session]
) -> None:
    with ThreadPoolExecutor(CALLERS) as pool:
        results = list(
            pool.map(lambda c: _append_and_check_visible(writer, sessions, c), range(CALLERS))
        )
    total = CALLERS * EVENTS_PER_CALLER
    assert sorted(seq for seqs in results for seq in seqs) == list(range(1, total + 1))
    for seqs in results:  # each caller's events keep its order along the chain
        assert seqs == sorted(seqs)
    # Group commit happened: fewer transactions than events.
    assert writer.batches < total
    with sessions() as session:
        result = verify(session, [])
    assert result.ok, result.problem
    assert result.count == total


def test_interleaves_with_in_transaction_appends(
    writer: AuditWriter, sessions: sessionmaker[Session]
) -> None:
    stop = threading.Event()

    def in_transaction() -> None:
        while not stop.is_set():
            with unit_of_work(sessions) as session:
                record_event(session, event_type="test.atomic", details={"n": 1})

    other = threading.Thread(target=in_transaction)
    other.start()
    try:
        for index in range(100):
            writer.submit(prepare_event(event_type="test.grouped", details={"i": index})).result(60)
    finally:
        stop.set()
        other.join(60)
    with sessions() as session:
        result = verify(session, [])
        types = set(session.scalars(select(AuditEntry.event_type)))
    assert result.ok, result.problem
    assert types == {"test.atomic", "test.grouped"}


def test_acting_context_is_the_callers(
    writer: AuditWriter, sessions: sessionmaker[Session]
) -> None:
    token = context.set_current(
        context.ActingContext(actor="client:svc", origin="198.51.100.4", request_id="req_1")
    )
    try:
        event = prepare_event(event_type="test.context")
    finally:
        context.reset(token)
    seq = writer.submit(event).result(60)
    with sessions() as session:
        stored = session.get(AuditEntry, seq)
    assert stored is not None
    assert (stored.actor, stored.origin, stored.request_id) == (
        "client:svc",
        "198.51.100.4",
        "req_1",
    )


def test_secret_is_refused_in_the_caller_and_nothing_is_written(
    writer: AuditWriter, sessions: sessionmaker[Session]
) -> None:
    with pytest.raises(SecretRefused) as refused:
        prepare_event(event_type="test.secret", details={"client_secret": "rps_abc"})
    assert "rps_abc" not in str(refused.value)
    with sessions() as session:
        assert session.scalars(select(AuditEntry)).first() is None


def test_async_callers_wait_for_the_commit(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.audit import writer as writer_module

    monkeypatch.setattr(writer_module, "get_sessionmaker", lambda: sessions)

    async def many() -> list[int]:
        return await asyncio.gather(
            *(
                writer_module.record_event_committed(event_type="test.async", details={"i": i})
                for i in range(50)
            )
        )

    try:
        seqs = asyncio.run(many())
    finally:
        writer_module.close_audit_writer()
    assert sorted(seqs) == list(range(1, 51))
    with sessions() as session:
        assert verify(session, []).ok


def test_a_failed_batch_fails_every_waiting_caller(tmp_path: Path) -> None:
    # A database without the ledger's tables: the commit fails, nobody is left hanging.
    engine = build_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    broken = AuditWriter(sessionmaker(bind=engine, expire_on_commit=False, autoflush=False))
    try:
        futures = [broken.submit(prepare_event(event_type="test.lost")) for _ in range(5)]
        for future in futures:
            with pytest.raises(DatabaseUnavailable):
                future.result(30)
    finally:
        broken.close()
        engine.dispose()


def test_an_event_loop_waiter_gives_up_on_a_stuck_writer_and_the_write_still_lands(
    writer: AuditWriter, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.audit import writer as writer_module

    monkeypatch.setattr(writer_module, "DEFAULT_TIMEOUT_SECONDS", 0.2)
    release = threading.Event()

    def stuck(session: Session) -> tuple[str, list[object]]:
        release.wait(10)  # the database is slow: the writer holds this batch
        return "done", [prepare_event(event_type="test.slow")]

    async def wait_then_release() -> tuple[BaseException | None, str, float]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await writer.submit_work_async(stuck)  # type: ignore[arg-type]
        except DatabaseUnavailable as exc:
            error: BaseException | None = exc
        else:
            error = None
        waited = loop.time() - started
        release.set()
        fast = await writer.submit_work_async(
            lambda _session: ("fast", [prepare_event(event_type="test.fast")])
        )
        return error, fast, waited

    error, fast, waited = asyncio.run(wait_then_release())
    assert isinstance(error, DatabaseUnavailable) and "in time" in str(error)
    assert fast == "fast" and 0.19 <= waited < 5  # gave up at the timeout, not after 10 s
    with sessions() as session:
        kinds = list(session.scalars(select(AuditEntry.event_type).order_by(AuditEntry.seq)))
    assert kinds == ["test.slow", "test.fast"]  # committed later all the same, in order
