"""A scan as a job on the real jobs runtime: queued → running → complete with progress in the
scan row and findings ingested; a cancelled scan stops and ingests nothing; a failure is one
clear error on the scan."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

import scanners.jobs  # noqa: F401  (declares scanners.scan)
from core.database import unit_of_work
from core.jobs import JobsConfig, JobsRuntime
from core.jobs.models import JobRun
from core.kms.provider import get_key_provider
from core.settings import Settings, get_settings
from scanners.models import Finding, Scan
from scanners.runner import cancel_scan, execute_scan, start_scan
from scanners.targets import add_target
from tests.scanners.shops import PLANTED


@pytest.fixture(autouse=True)
def scan_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAMPART_SCAN_ALLOW_PRIVATE_NETWORKS", "true")
    get_settings.cache_clear()
    get_key_provider().ensure_keys()


@pytest.fixture
def workers() -> Iterator[JobsRuntime]:
    config = JobsConfig(poll_seconds=0.05, lease_seconds=5.0, max_scheduler_sleep=0.2)
    running = JobsRuntime(config, scheduler=False, workers=True, concurrency=1).start()
    yield running
    running.stop(timeout=5)


def _wait(scan_id: object, statuses: tuple[str, ...], seconds: float = 30) -> Scan:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with unit_of_work(read_only=True) as session:
            scan = session.get(Scan, scan_id)
            assert scan is not None
            if scan.status in statuses:
                session.expunge(scan)
                return scan
        time.sleep(0.05)
    raise AssertionError(f"scan not {statuses} in {seconds}s")


def test_a_started_scan_runs_as_a_job_to_completion(
    weak_scan_shop: str, workers: JobsRuntime
) -> None:
    with unit_of_work() as session:
        add_target(session, name="weak", url=weak_scan_shop, actor="t")
        scan = start_scan(session, "weak", "builtin", actor="t")
        scan_id, run_id = scan.id, scan.job_run_id
        assert scan.status == "queued" and run_id is not None
    done = _wait(scan_id, ("complete", "failed"))
    assert done.status == "complete", done.error
    assert done.pages_done == done.pages_total == 8  # every page of the weak shop
    assert done.started_at is not None and done.finished_at is not None
    with unit_of_work(read_only=True) as session:
        rules = set(session.scalars(select(Finding.rule)))
        assert rules >= PLANTED
        assert done.findings == session.scalar(select(func.count()).select_from(Finding))
    # A fresh transaction per look: one read transaction keeps its snapshot on SQLite (WAL).
    deadline = time.monotonic() + 30
    while True:
        with unit_of_work(read_only=True) as session:
            status = session.get(JobRun, run_id).status  # type: ignore[union-attr]
        if status == "succeeded":
            break
        assert time.monotonic() < deadline, status
        time.sleep(0.05)


def test_a_cancelled_scan_stops_and_ingests_nothing(weak_scan_shop: str) -> None:
    with unit_of_work() as session:
        add_target(session, name="weak", url=weak_scan_shop, actor="t")
        scan_id = start_scan(session, "weak", "builtin", actor="t").id

    def cancel_midway(done: int, total: int, message: str) -> None:
        if done >= 1:
            with unit_of_work() as session:
                scan = session.get(Scan, scan_id)
                if scan is not None and scan.status == "running":
                    cancel_scan(session, scan_id, actor="t")

    result = execute_scan(scan_id, on_progress=cancel_midway)
    assert result["status"] == "failed" and result["error"] == "cancelled by t"
    assert result["pages_done"] < 6
    with unit_of_work(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(Finding)) == 0
    assert execute_scan(scan_id)["status"] == "failed"  # a re-run of the job leaves it so


def test_an_unreachable_target_fails_the_scan_with_one_clear_error() -> None:
    with unit_of_work() as session:
        add_target(session, name="gone", url="http://127.0.0.1:9/", actor="t")
        scan_id = start_scan(session, "gone", "builtin", actor="t").id
    result = execute_scan(scan_id)
    assert result["status"] == "failed"
    assert result["error"] and "\n" not in result["error"]
