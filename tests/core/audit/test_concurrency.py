"""Several processes appending at once keep one linear chain (4 writer processes x 250 events)."""

from __future__ import annotations

import multiprocessing
from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.audit.models import AuditEntry
from core.audit.service import record_event
from core.audit.verification import verify
from core.database import build_engine, unit_of_work

WRITERS = 4
EVENTS_PER_WRITER = 250


def _append_from_own_process(
    url: str, writer: int, start: multiprocessing.synchronize.Event
) -> None:
    engine = build_engine(url)
    factory = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
    start.wait(30)
    for index in range(EVENTS_PER_WRITER):
        with unit_of_work(factory) as session:
            record_event(
                session,
                event_type="test.concurrent",
                actor=f"writer:{writer}",
                resource=f"item:{index}",
                details={"writer": writer, "index": index},
            )
    engine.dispose()


def test_concurrent_writer_processes_keep_one_valid_chain(
    database_url: str, sessions: sessionmaker[Session]
) -> None:
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Event()
    writers = [
        spawn.Process(target=_append_from_own_process, args=(database_url, writer, start))
        for writer in range(WRITERS)
    ]
    for process in writers:
        process.start()
    start.set()
    for process in writers:
        process.join(240)
    assert [p.exitcode for p in writers] == [0] * WRITERS

    with sessions() as session:
        result = verify(session, [])
        seqs = list(session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)))
        actors = Counter(session.scalars(select(AuditEntry.actor)))
    assert result.ok, result.problem
    assert result.count == WRITERS * EVENTS_PER_WRITER
    assert seqs == list(range(1, WRITERS * EVENTS_PER_WRITER + 1))
    assert actors == {f"writer:{w}": EVENTS_PER_WRITER for w in range(WRITERS)}
