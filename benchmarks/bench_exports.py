"""Evidence export: a 12-month period over 1,000,000 stored evidence records (targets: <= 60 s,
<= 200 MB peak RSS), on SQLite and PostgreSQL, beside the export of the same period holding one
record per check. Each export runs in a fresh interpreter, so its peak RSS is its own.

Rows are bulk-inserted as bench_compliance does (the export copies signatures, never checks
them)."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from benchmarks.bench_audit import _postgres_database, _sqlite_database
from benchmarks.bench_compliance import _fill
from benchmarks.harness import Figure, Size
from compliance.checks import load_all
from compliance.checks.base import REGISTRY

SECONDS_TARGET = 60.0
RSS_TARGET_MB = 200.0


def run(size: Size) -> list[Figure]:
    stored = size.pick(1_000_000, 100_000, 1_000)
    figures: list[Figure] = []
    for backend, database in (("SQLite", _sqlite_database), ("PostgreSQL", _postgres_database)):
        with database() as engine, tempfile.TemporaryDirectory(prefix="rampart-bench-exp-") as tmp:
            load_all()
            check_ids = sorted(REGISTRY)
            _fill(engine, check_ids, len(check_ids))
            small = _export_in_child(engine, Path(tmp), "small")
            _fill(engine, check_ids, stored - len(check_ids))
            large = _export_in_child(engine, Path(tmp), "large")
        figures += [
            Figure(
                f"evidence export, 12 months, {large['records']:,} records ({backend})",
                large["seconds"],
                "s",
                anchor=f"same period, {small['records']} records",
                anchor_value=small["seconds"],
                higher_is_better=False,
                target=f"<= {SECONDS_TARGET:g} s",
                notes={"zip_mb": large["zip_mb"]},
            ),
            Figure(
                f"evidence export peak RSS, {large['records']:,} records ({backend})",
                large["rss_mb"],
                "MB",
                anchor=f"same period, {small['records']} records",
                anchor_value=small["rss_mb"],
                higher_is_better=False,
                target=f"<= {RSS_TARGET_MB:g} MB",
            ),
        ]
    return figures


def _export_in_child(engine: Engine, directory: Path, label: str) -> dict[str, float]:
    url = engine.url.render_as_string(hide_password=False)
    answer = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_exports", url, str(directory), label],
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, float] = json.loads(answer.stdout.strip().splitlines()[-1])
    return figures


def _child(url: str, directory: Path, label: str) -> None:
    from sqlalchemy.orm import sessionmaker

    from compliance.exports.service import export_evidence, resolve_period
    from core.clock import utcnow
    from core.database import build_engine, unit_of_work
    from core.kms.local import LocalKeyProvider

    signer = LocalKeyProvider(directory / "keys.json")
    signer.ensure_keys()
    engine = build_engine(url)
    sessions = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
    now = utcnow()
    period = resolve_period(now - timedelta(days=365), now + timedelta(days=1), None)
    output = directory / f"{label}.zip"
    start = time.perf_counter()
    with unit_of_work(sessions, read_only=True) as session:
        summary = export_evidence(
            session,
            framework_id="pci-dss-4.0.1",
            period=period,
            output=output,
            signer=signer,
            generator_version="bench",
        )
    seconds = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sys.stdout.write(
        json.dumps(
            {
                "seconds": seconds,
                "rss_mb": rss_mb,
                "records": summary.counts["evidence_records"],
                "zip_mb": output.stat().st_size / 1e6,
            }
        )
        + "\n"
    )


if __name__ == "__main__":
    _child(sys.argv[1], Path(sys.argv[2]), sys.argv[3])
