"""Compliance engine: the full check suite against a running server (target <= 10 s), signed
evidence writes on SQLite and PostgreSQL (target >= 1,000 records/s) beside the bare audit-ledger
append each record also makes, and control posture per framework over 1,000,000 stored evidence
records (target <= 200 ms) beside the same posture over one record per check.

The suite runs `rampart compliance run --json` as an operator would, against `rampart serve`
on a fresh data directory, after `rampart demo seed` when that command exists.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.bench_audit import _per_transaction, _postgres_database, _sqlite_database
from benchmarks.harness import Figure, Size, rate
from benchmarks.servers import ROOT, rampart_server
from cli.main import COMMANDS
from compliance.checks import load_all
from compliance.checks.base import REGISTRY, CheckResult, RegisteredCheck
from compliance.controls import default_library
from compliance.evidence import Outcome, record_evidence, record_evidence_many
from compliance.models import EvidenceRecord
from compliance.posture import posture
from core.audit.service import record_event
from core.clock import utcnow
from core.database import unit_of_work
from core.ids import uuid7
from core.kms.local import LocalKeyProvider

WRITE_TARGET = 1_000.0
POSTURE_TARGET_MS = 200.0
SUITE_TARGET_S = 10.0


def run(size: Size) -> list[Figure]:
    writes = size.pick(3_000, 300, 30)
    stored = size.pick(1_000_000, 100_000, 1_000)
    figures = [_suite_figure()]
    for backend, database in (("SQLite", _sqlite_database), ("PostgreSQL", _postgres_database)):
        with database() as engine, _signer() as signer:
            figures += _write_figures(backend, engine, signer, writes)
        with database() as engine:
            figures += _posture_figures(backend, engine, stored)
    return figures


@contextmanager
def _signer() -> Iterator[LocalKeyProvider]:
    with tempfile.TemporaryDirectory(prefix="rampart-bench-keys-") as directory:
        provider = LocalKeyProvider(Path(directory) / "keys.json")
        provider.ensure_keys()
        yield provider


def _suite_figure() -> Figure:
    demo = any(entry.name == "demo" for entry in COMMANDS)
    with rampart_server() as server:
        env = {
            **os.environ,
            "RAMPART_DATA_DIR": str(server.data_dir),
            "RAMPART_ISSUER": server.base_url,
            "RAMPART_LOG_LEVEL": "WARNING",
        }
        rampart = str(ROOT / ".venv/bin/rampart")
        if demo:
            # The shop alone (as measured before the seed ran checks and recorded history).
            seed = [rampart, "demo", "seed", "--no-evidence", "--json"]
            subprocess.run(seed, env=env, check=True, capture_output=True, timeout=300)
        start = time.perf_counter()
        done = subprocess.run(
            [rampart, "compliance", "run", "--json"],
            env=env,
            capture_output=True,
            check=True,
            timeout=300,
        )
        seconds = time.perf_counter() - start
    results = json.loads(done.stdout)["results"]
    statuses = {s: sum(1 for r in results if r["status"] == s) for s in ("pass", "fail", "error")}
    return Figure(
        f"full suite, `compliance run --json` ({len(results)} checks"
        f"{', demo shop' if demo else ', fresh install'})",
        seconds,
        "s",
        higher_is_better=False,
        target=f"<= {SUITE_TARGET_S:g} s",
        notes={"statuses": statuses},
    )


def _outcome(check: RegisteredCheck, index: int) -> Outcome:
    now = utcnow()
    result = CheckResult.judge(
        index % 7 != 0,
        {"failed_attempts_before_lock": 6, "probe": index},
        {"failed_attempts_before_lock": {"max": 10}},
        detail="canary locked after 6 failed logins",
    )
    return Outcome(check, result, now, now)


def _write_figures(
    backend: str, engine: Engine, signer: LocalKeyProvider, writes: int
) -> list[Figure]:
    sessions = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
    load_all()
    check = REGISTRY["iam.lockout_probe"]

    def evidence(index: int, session: Session) -> None:
        record_evidence(session, signer, _outcome(check, index), collector="bench")

    def ledger_only(index: int, session: Session) -> None:
        # What every evidence record also appends: the anchor shows what signing and the
        # evidence row add on top of the chained audit entry.
        record_event(
            session,
            event_type="compliance.evidence",
            resource=f"compliance/evidence/{index}",
            details={"evidence_id": str(uuid7()), "check": check.id, "status": "pass"},
        )

    def evidence_many(first: int, count: int, session: Session) -> None:
        outcomes = [_outcome(check, index) for index in range(first, first + count)]
        record_evidence_many(session, signer, outcomes, collector="bench")

    own = _per_transaction(sessions, evidence, writes)
    anchor = _per_transaction(sessions, ledger_only, writes)
    batched = _batched(sessions, evidence_many, writes * 5, 100)
    return [
        Figure(
            f"signed evidence writes, own transaction ({backend})",
            own,
            "records/s",
            anchor="audit append alone",
            anchor_value=anchor,
            target=f">= {WRITE_TARGET:,.0f}/s",
        ),
        Figure(
            f"signed evidence writes, record_evidence_many of 100 ({backend})",
            batched,
            "records/s",
            target=f">= {WRITE_TARGET:,.0f}/s",
        ),
    ]


def _batched(
    sessions: sessionmaker[Session],
    write_many: Callable[[int, int, Session], None],
    count: int,
    size: int,
) -> float:
    start = time.perf_counter()
    for first in range(0, count, size):
        with unit_of_work(sessions) as session:
            write_many(first, min(size, count - first), session)
    return rate(count, time.perf_counter() - start)


def _posture_figures(backend: str, engine: Engine, stored: int) -> list[Figure]:
    """Rows are bulk-inserted (not signed: posture reads status and time, never signatures)."""
    sessions = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
    load_all()
    library = default_library()
    check_ids = sorted(REGISTRY)
    _fill(engine, check_ids, len(check_ids))
    small = _posture_ms(sessions, library)
    _fill(engine, check_ids, stored - len(check_ids))
    large = _posture_ms(sessions, library)
    return [
        Figure(
            f"posture per framework, {stored:,} evidence records ({backend})",
            large,
            "ms",
            anchor=f"same over {len(check_ids)} records",
            anchor_value=small,
            higher_is_better=False,
            target=f"<= {POSTURE_TARGET_MS:g} ms",
        )
    ]


def _posture_ms(sessions: sessionmaker[Session], library: Any) -> float:
    """Median over both frameworks' posture calls, after one warm-up each."""
    samples = []
    for attempt in range(6):
        for framework in ("pci-dss-4.0.1", "gdpr"):
            with unit_of_work(sessions, read_only=True) as session:
                start = time.perf_counter()
                posture(session, library, utcnow(), framework)
                elapsed = time.perf_counter() - start
            if attempt:
                samples.append(elapsed * 1000)
    return statistics.median(samples)


def _fill(engine: Engine, check_ids: list[str], count: int, chunk: int = 20_000) -> None:
    start = utcnow() - timedelta(days=400)
    step = timedelta(days=400) / max(count, 1)
    signature = b"\x00" * 64
    controls = {c: orjson.dumps(list(REGISTRY[c].controls)).decode() for c in check_ids}
    with engine.begin() as connection:
        for first in range(0, count, chunk):
            rows = []
            for index in range(first, min(first + chunk, count)):
                check_id = check_ids[index % len(check_ids)]
                moment = start + step * index
                rows.append(
                    {
                        "id": uuid7(),
                        "run_id": None,
                        "check_id": check_id,
                        "check_version": "0" * 16,
                        "control_ids": controls[check_id],
                        "target": "rampart",
                        "collector": "bench",
                        "started_at": moment,
                        "finished_at": moment,
                        "status": "fail" if index % 11 == 0 else "pass",
                        "observed": "{}",
                        "expected": "{}",
                        "detail": "",
                        "artefacts": "[]",
                        "digest": "0" * 64,
                        "signature": signature,
                        "key_fingerprint": "0" * 64,
                        "audit_seq": index + 1,
                    }
                )
            connection.execute(insert(EvidenceRecord), rows)
