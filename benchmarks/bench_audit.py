"""Audit ledger: append rate (own transaction per entry, and batched) on SQLite and PostgreSQL,
beside a plain unchained insert of the same row; verification rate against the 300k/s target."""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, Text, insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.harness import Figure, Size, rate
from benchmarks.servers import scratch_postgres
from core import migrations
from core.audit.canonical import GENESIS_HASH, canonical_details, entry_hash, format_occurred_at
from core.audit.models import AuditChainHead, AuditEntry
from core.audit.service import record_event
from core.audit.verification import verify
from core.clock import utcnow
from core.database import UTCDateTime, build_engine, unit_of_work

PG_ADMIN_URL = os.environ.get(
    "RAMPART_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
VERIFY_TARGET = 300_000.0
ACTOR = "user:0190a6b2-7c1e-7000-8000-00000000abcd"
REQUEST_ID = "req_0123456789abcdef01234567"

# The same columns without seq/prev_hash/hash: what an unchained event log would insert.
_plain = MetaData()
plain_events = Table(
    "bench_plain_events",
    _plain,
    Column("id", String(36), primary_key=True),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("actor", String(255)),
    Column("event_type", String(100)),
    Column("outcome", String(16)),
    Column("origin", String(255)),
    Column("resource", String(500)),
    Column("request_id", String(100)),
    Column("details", Text),
)


def run(size: Size) -> list[Figure]:
    appends = size.pick(2_000, 300, 50)
    batched = size.pick(20_000, 2_000, 200)
    verified = size.pick(200_000, 50_000, 1_000)
    figures: list[Figure] = []
    for backend, database in (("SQLite", _sqlite_database), ("PostgreSQL", _postgres_database)):
        with database() as engine:
            figures += _append_figures(backend, engine, appends, batched)
        with database() as engine:
            figures.extend(_verify_figures(backend, engine, verified))
    return figures


def _append_figures(backend: str, engine: Engine, appends: int, batched: int) -> list[Figure]:
    sessions = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
    _plain.create_all(engine)

    def chained(index: int, session: Session) -> None:
        record_event(
            session,
            event_type="order.update",
            resource=f"order:{index}",
            details={"index": index, "amount": 1999, "currency": "EUR"},
            actor=ACTOR,
            origin="203.0.113.7",
            request_id=REQUEST_ID,
        )

    def unchained(index: int, session: Session) -> None:
        session.execute(
            insert(plain_events).values(
                id=str(uuid.uuid4()),
                occurred_at=utcnow(),
                actor=ACTOR,
                event_type="order.update",
                outcome="success",
                origin="203.0.113.7",
                resource=f"order:{index}",
                request_id=REQUEST_ID,
                details=canonical_details({"index": index, "amount": 1999, "currency": "EUR"}),
            )
        )

    own_tx = _per_transaction(sessions, chained, appends)
    plain_own_tx = _per_transaction(sessions, unchained, appends)
    one_tx = _one_transaction(sessions, chained, batched)
    plain_one_tx = _one_transaction(sessions, unchained, batched)
    return [
        Figure(
            f"audit append, own transaction each, {backend}",
            own_tx,
            "entries/s",
            anchor="unchained insert, own transaction",
            anchor_value=plain_own_tx,
            notes={"entries": appends},
        ),
        Figure(
            f"audit append, {batched} in one transaction, {backend}",
            one_tx,
            "entries/s",
            anchor="unchained insert, one transaction",
            anchor_value=plain_one_tx,
            notes={"entries": batched},
        ),
    ]


def _per_transaction(
    sessions: sessionmaker[Session], write: Callable[[int, Session], None], count: int
) -> float:
    start = time.perf_counter()
    for index in range(count):
        with unit_of_work(sessions) as session:
            write(index, session)
    return rate(count, time.perf_counter() - start)


def _one_transaction(
    sessions: sessionmaker[Session], write: Callable[[int, Session], None], count: int
) -> float:
    start = time.perf_counter()
    with unit_of_work(sessions) as session:
        for index in range(count):
            write(index, session)
    return rate(count, time.perf_counter() - start)


def _verify_figures(backend: str, engine: Engine, count: int) -> list[Figure]:
    """The single walk, and what `rampart audit verify` does by default: one forked range walk
    per core (core.audit.verification.verify with workers)."""
    _seed_ledger(engine, count)
    cores = os.cpu_count() or 1
    figures = []
    for workers, label in ((1, "one walk"), (cores, f"{cores} range walks")):
        samples: list[tuple[float, float]] = []
        for _ in range(3):
            with Session(engine) as session:
                wall, cpu = time.perf_counter(), time.process_time()
                result = verify(session, [], workers=workers)
                samples.append((time.perf_counter() - wall, time.process_time() - cpu))
            if not result.ok or result.count != count:
                raise RuntimeError(f"seeded ledger did not verify: {result.problem}")
        wall_best = min(s[0] for s in samples)
        cpu_best = min(s[1] for s in samples)
        figures.append(
            Figure(
                f"audit verify, {count} entries, {backend}, {label}",
                rate(count, wall_best),
                "entries/s",
                anchor="target",
                anchor_value=VERIFY_TARGET,
                target=">= 300k entries/s",
                notes={
                    "parent_cpu_rate": round(rate(count, cpu_best)),
                    "load_average_1m": round(os.getloadavg()[0], 2),
                    "cores": cores,
                },
            )
        )
    return figures


def _seed_ledger(engine: Engine, count: int) -> None:
    """Entries hashed exactly as record_event hashes them, inserted in bulk (seeding speed)."""
    start, previous = utcnow(), GENESIS_HASH
    rows: list[dict[str, Any]] = []
    for seq in range(1, count + 1):
        occurred_at = start + timedelta(microseconds=seq * 37)
        details = canonical_details({"index": seq, "amount": 1999, "items": ["sku-1", "sku-2"]})
        fields = {
            "actor": ACTOR,
            "event_type": "order.update",
            "outcome": "success",
            "origin": "203.0.113.7",
            "resource": f"order:{seq}",
            "request_id": REQUEST_ID,
        }
        digest = entry_hash(
            seq,
            previous,
            format_occurred_at(occurred_at),
            fields["actor"],
            fields["event_type"],
            fields["outcome"],
            fields["origin"],
            fields["resource"],
            fields["request_id"],
            details,
        )
        rows.append(
            {
                "seq": seq,
                "occurred_at": occurred_at,
                "details": details,
                "prev_hash": previous,
                "hash": digest,
                **fields,
            }
        )
        previous = digest
    with unit_of_work(sessionmaker(bind=engine)) as session:
        for offset in range(0, count, 10_000):
            session.execute(insert(AuditEntry), rows[offset : offset + 10_000])
        session.execute(insert(AuditChainHead).values(id=1, last_seq=count, last_hash=previous))


@contextmanager
def _sqlite_database() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory(prefix="rampart-bench-audit-") as directory:
        engine = build_engine(f"sqlite:///{Path(directory) / 'audit.db'}")
        migrations.upgrade(engine)
        try:
            yield engine
        finally:
            engine.dispose()


@contextmanager
def _postgres_database() -> Iterator[Engine]:
    with scratch_postgres("rampart_bench_audit", PG_ADMIN_URL) as url:
        engine = build_engine(url)
        try:
            migrations.upgrade(engine)
            yield engine
        finally:
            engine.dispose()
