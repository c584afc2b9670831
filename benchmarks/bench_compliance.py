"""Compliance engine: (a) the full check suite on the demo shop, as `rampart compliance run`
runs it against a live server (target <= 10 s); (b) signed evidence writes through the real
``compliance.evidence.record_evidence`` path (Ed25519 signature + audit-ledger entry), one
transaction per record as the engine writes them and batched, on SQLite and PostgreSQL
(target >= 1,000/s); (c) ``compliance.posture.posture`` per framework over 1,000,000 stored
evidence records (target <= 200 ms).

uv run --frozen python -m benchmarks compliance [--quick]
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.harness import Figure, median, rate, time_calls
from compliance.checks import load_all
from compliance.checks.base import REGISTRY, CheckResult
from compliance.controls import default_library
from compliance.evidence import Outcome, record_evidence
from compliance.models import EvidenceRecord
from compliance.posture import posture
from core import migrations
from core.clock import utcnow
from core.database import build_engine, unit_of_work
from core.ids import uuid7

PG_ADMIN_URL = os.environ.get(
    "RAMPART_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
RAMPART = str(Path(sys.executable).with_name("rampart"))
SUITE_TARGET_S = 10.0
WRITES_TARGET = 1_000.0
POSTURE_TARGET_MS = 200.0


class Ed25519Signer:
    """A real Ed25519 key (the KMS provider's local key is the same primitive)."""

    def __init__(self) -> None:
        self._key = Ed25519PrivateKey.generate()

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def public_signing_key(self) -> bytes:
        return self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def run(quick: bool) -> list[Figure]:
    writes = 300 if quick else 3_000
    stored = 50_000 if quick else 1_000_000
    figures = [_suite_figure()]
    for backend, database in (("SQLite", _sqlite_database), ("PostgreSQL", _postgres_database)):
        with database() as engine:
            figures += _write_figures(backend, engine, writes)
        with database() as engine:
            figures += _posture_figures(backend, engine, stored)
    return figures


# -- (a) the full suite on the demo shop --------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _suite_figure() -> Figure:
    with tempfile.TemporaryDirectory(prefix="rampart-bench-compliance-") as directory:
        root = Path(directory)
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
        env.update(
            RAMPART_LOG_LEVEL="WARNING",
            RAMPART_PORT=str(port),
            RAMPART_ADMIN_PASSWORD="bench horse 42 battery",  # noqa: S106 - throw-away admin
        )

        def rampart(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [RAMPART, *args], cwd=root, env=env, capture_output=True, text=True, check=True
            )

        rampart("init", "--json")
        rampart("demo", "seed", "--json")
        server = subprocess.Popen(
            [RAMPART, "serve", "--port", str(port)],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            _wait_ready(port)
            samples = []
            for _ in range(3):
                start = time.perf_counter()
                result = rampart("compliance", "run", "--json")
                samples.append(time.perf_counter() - start)
            count = result.stdout.count('"evidence_id"')
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    return Figure(
        "full suite on the demo shop (rampart compliance run)",
        median(samples),
        "s",
        anchor="target",
        anchor_value=SUITE_TARGET_S,
        higher_is_better=False,
        target=f"<= {SUITE_TARGET_S:g} s",
        notes={"results": count, "samples_s": [round(s, 2) for s in samples]},
    )


def _wait_ready(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("rampart serve did not become ready within 60 s")


# -- (b) signed evidence writes -----------------------------------------------------------------


def _outcome(index: int) -> Outcome:
    load_all()
    check = REGISTRY["iam.lockout_settings"]
    now = utcnow()
    result = CheckResult.judge(
        index % 10 != 0,
        {"lockout_threshold": 10, "lockout_minutes": 30, "sample": index},
        {"lockout_threshold": "<= 10", "lockout_minutes": ">= 30"},
    )
    return Outcome(check, result, now - timedelta(milliseconds=3), now)


def _write_figures(backend: str, engine: Engine, count: int) -> list[Figure]:
    sessions = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
    signer = Ed25519Signer()
    outcomes = [_outcome(i) for i in range(count)]

    def one_per_transaction() -> None:
        for outcome in outcomes:
            with unit_of_work(sessions) as session:
                record_evidence(session, signer, outcome, collector="bench")

    def batched() -> None:
        for first in range(0, count, 100):
            with unit_of_work(sessions) as session:
                for outcome in outcomes[first : first + 100]:
                    record_evidence(session, signer, outcome, collector="bench")

    figures = []
    for label, write in (("one transaction each", one_per_transaction), ("100 per tx", batched)):
        start = time.perf_counter()
        write()
        elapsed = time.perf_counter() - start
        figures.append(
            Figure(
                f"signed evidence writes, {label} ({backend})",
                rate(count, elapsed),
                "records/s",
                anchor="target",
                anchor_value=WRITES_TARGET,
                target=f">= {WRITES_TARGET:,.0f}/s",
                notes={"records": count},
            )
        )
    return figures


# -- (c) posture over stored evidence -----------------------------------------------------------


def _bulk_rows(count: int) -> Iterator[list[dict[str, Any]]]:
    """``count`` evidence rows over every registered check, a year of history, in chunks (the
    signatures are random bytes: posture reads status and time, verification is not timed)."""
    load_all()
    checks = sorted(REGISTRY.values(), key=lambda c: c.id)
    start = utcnow() - timedelta(days=365)
    step = timedelta(days=365) / count
    chunk: list[dict[str, Any]] = []
    for index in range(count):
        check = checks[index % len(checks)]
        at = start + step * index
        chunk.append(
            {
                "id": uuid7(),
                "check_id": check.id,
                "check_version": check.version,
                "control_ids": '["' + '","'.join(check.controls) + '"]',
                "target": "",
                "collector": "bench",
                "started_at": at,
                "finished_at": at,
                "status": "fail" if index % 7 == 0 else "pass",
                "observed": '{"sample":' + str(index) + "}",
                "expected": "{}",
                "detail": "",
                "artefacts": "[]",
                "digest": "0" * 64,
                "signature": b"\0" * 64,
                "key_fingerprint": "0" * 64,
                "audit_seq": index + 1,
            }
        )
        if len(chunk) == 20_000:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _copy_rows(connection: Any, count: int) -> None:
    """PostgreSQL: COPY FROM STDIN (psycopg), an order of magnitude faster than INSERTs."""
    columns = [c.name for c in EvidenceRecord.__table__.columns if c.name != "run_id"]
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f"COPY compliance_evidence ({', '.join(columns)}) FROM STDIN") as copy:
        for chunk in _bulk_rows(count):
            for row in chunk:
                copy.write_row([row[name] for name in columns])


def _posture_figures(backend: str, engine: Engine, count: int) -> list[Figure]:
    start = time.perf_counter()
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            _copy_rows(connection, count)
        else:
            for chunk in _bulk_rows(count):  # executemany of one prepared INSERT
                connection.execute(insert(EvidenceRecord), chunk)
        if engine.dialect.name == "postgresql":
            connection.execute(text("ANALYZE compliance_evidence"))
        else:
            connection.execute(text("ANALYZE"))
    loaded_s = time.perf_counter() - start
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    library = default_library()
    figures = []
    for framework in ("pci-dss-4.0.1", "gdpr"):

        def read(fw: str = framework) -> None:
            session: Session = sessions()
            try:
                posture(session, library, utcnow(), fw)
            finally:
                session.close()

        read()  # warm: the library, the check registry, the connection
        samples = time_calls(read, repeat=10)
        figures.append(
            Figure(
                f"posture {framework}, {count:,} evidence rows ({backend})",
                median(samples) * 1000,
                "ms",
                anchor="target",
                anchor_value=POSTURE_TARGET_MS,
                higher_is_better=False,
                target=f"<= {POSTURE_TARGET_MS:g} ms",
                notes={"rows": count, "bulk_insert_s": round(loaded_s, 1)},
            )
        )
    return figures


@contextmanager
def _sqlite_database() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory(prefix="rampart-bench-compliance-") as directory:
        engine = build_engine(f"sqlite:///{Path(directory) / 'compliance.db'}")
        migrations.upgrade(engine)
        try:
            yield engine
        finally:
            engine.dispose()


@contextmanager
def _postgres_database() -> Iterator[Engine]:
    name = f"rampart_bench_compliance_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = build_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
    try:
        migrations.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
