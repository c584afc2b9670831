"""Scheduling: the checks whose evidence is about to go stale are due; compliance.run_due fires
once per slot across replicas (two schedulers, one run) and runs them through the job runner."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from compliance.checks.base import RegisteredCheck
from compliance.controls import ControlLibrary
from compliance.due import due_checks
from compliance.engine import EngineDeps, Scope, run
from compliance.models import EvidenceRecord
from core.clock import utcnow
from core.database import unit_of_work
from core.jobs import JobsConfig, JobsRuntime
from core.jobs.scheduler import Scheduler
from core.settings import get_settings
from tests.compliance.conftest import FIXTURES
from tests.core.jobs.conftest import run_row, wait_for


def _due(deps: EngineDeps, library: ControlLibrary, **later: float) -> list[str]:
    with unit_of_work(deps.read_sessions, read_only=True) as session:
        return [c.id for c in due_checks(session, library, utcnow() + timedelta(**later))]


def test_a_check_is_due_when_never_run_or_about_to_go_stale(
    deps: EngineDeps, library: ControlLibrary, standard_checks: dict[str, RegisteredCheck]
) -> None:
    assert _due(deps, library) == ["tests.fails", "tests.passes"]
    run(deps, library, Scope(framework="test-fw"))
    assert _due(deps, library) == []
    assert _due(deps, library, hours=12) == []
    # tests.passes serves a P1D and a P1M control: the shorter frequency decides
    assert _due(deps, library, hours=23) == ["tests.fails", "tests.passes"]


def test_run_due_fires_once_per_slot_across_replicas_and_records_evidence(
    deps: EngineDeps,
    library: ControlLibrary,
    standard_checks: dict[str, RegisteredCheck],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAMPART_COMPLIANCE_LIBRARY", str(FIXTURES / "library"))
    get_settings.cache_clear()  # settings are read once per process
    import compliance.jobs  # noqa: F401 - declares the jobs and the schedule

    config = JobsConfig(poll_seconds=0.05, lease_seconds=5.0, max_scheduler_sleep=0.2)
    now = utcnow()
    first, second = Scheduler(config), Scheduler(config)
    first.tick(now=now - timedelta(minutes=20))
    second.tick(now=now - timedelta(minutes=20))
    fired = [
        s for s in first.tick(now=now) + second.tick(now=now) if s.schedule == "compliance.run_due"
    ]
    assert len(fired) == 1
    runtime = JobsRuntime(config, scheduler=False, workers=True, concurrency=1).start()
    try:
        wait_for(lambda: run_row(fired[0].run_id).status == "succeeded", 20, "compliance.run_due")
    finally:
        runtime.stop(timeout=5)
    assert run_row(fired[0].run_id).result == {"results": 2, "failed": 1, "errors": 0}
    with unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(EvidenceRecord)) == 2
