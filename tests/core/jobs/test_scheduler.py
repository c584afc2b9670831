"""The scheduler tick: slots fire once, missed slots follow the catch-up policy, lost runs come
back (at least once), gauges are refreshed; the built-in jobs do real work."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from core.audit.models import AuditCheckpoint
from core.audit.service import record_event
from core.clock import utcnow
from core.database import unit_of_work
from core.jobs import JobsConfig, JobsRuntime, admin, enqueue, queue, schedule
from core.jobs.models import JobRun, JobSchedule
from core.jobs.registry import CatchUp, forget_schedule
from core.jobs.scheduler import FiredSlot, Scheduler, fire_due_slots
from core.settings import get_settings
from tests.core.jobs.conftest import run_row, runs_of, wait_for

NOW = datetime(2025, 6, 1, 12, 0, 45, tzinfo=UTC)  # 45 s late: past the 30 s misfire grace


@pytest.fixture
def every_minute() -> Iterator[str]:
    yield "tests.every_minute"
    forget_schedule("tests.every_minute")


def _mine(fired: list[FiredSlot], name: str) -> list[FiredSlot]:
    return [slot for slot in fired if slot.schedule == name]


def _declare(name: str, catch_up: CatchUp) -> None:
    forget_schedule(name)
    schedule(name, "tests.tick", every=timedelta(minutes=1), catch_up=catch_up)


def _fired_after_downtime(name: str, catch_up: CatchUp, config: JobsConfig) -> list[datetime]:
    """Declare, sync at NOW - 10 min, then tick at NOW as if the process had been down."""
    _declare(name, catch_up)
    scheduler = Scheduler(config)
    scheduler.tick(now=NOW - timedelta(minutes=10))
    fired = scheduler.tick(now=NOW)
    assert _mine(scheduler.tick(now=NOW), name) == []  # nothing fires twice
    return [slot.slot for slot in fired if slot.schedule == name]


@pytest.mark.parametrize(
    ("catch_up", "expected"),
    [("all", 10), ("latest", 1), ("none", 0)],
)
def test_missed_slots_follow_the_catch_up_policy(
    engine: Engine,
    jobs_config: JobsConfig,
    every_minute: str,
    catch_up: CatchUp,
    expected: int,
) -> None:
    fired = _fired_after_downtime(every_minute, catch_up, jobs_config)
    assert len(fired) == expected
    if fired:
        assert fired[-1] == datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    runs = runs_of("tests.tick")
    assert sorted(run.scheduled_for for run in runs if run.scheduled_for) == fired
    with unit_of_work() as session:
        row = session.get_one(JobSchedule, every_minute)
    assert row.last_slot == datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    assert row.next_slot == datetime(2025, 6, 1, 12, 1, tzinfo=UTC)


def test_an_on_time_slot_fires_under_catch_up_none(
    engine: Engine, jobs_config: JobsConfig, every_minute: str
) -> None:
    _declare(every_minute, "none")
    scheduler = Scheduler(jobs_config)
    on_time = datetime(2025, 6, 1, 12, 0, 0, 400000, tzinfo=UTC)
    scheduler.tick(now=on_time - timedelta(seconds=30))
    fired = [slot for slot in scheduler.tick(now=on_time) if slot.schedule == every_minute]
    assert [slot.slot for slot in fired] == [datetime(2025, 6, 1, 12, 0, tzinfo=UTC)]


def test_a_slot_already_taken_by_another_replica_is_not_fired_again(
    engine: Engine, jobs_config: JobsConfig, every_minute: str
) -> None:
    _declare(every_minute, "all")
    Scheduler(jobs_config).tick(now=NOW - timedelta(minutes=2))
    replica_a, replica_b = Scheduler(jobs_config), Scheduler(jobs_config)
    from core.jobs.registry import get_schedule

    spec = get_schedule(every_minute)
    assert spec is not None
    with unit_of_work() as session_a:
        fired_a = fire_due_slots(session_a, spec, jobs_config, NOW)
    with unit_of_work() as session_b:
        fired_b = fire_due_slots(session_b, spec, jobs_config, NOW)
    assert len(fired_a) == 2 and fired_b == []
    assert _mine(replica_a.tick(now=NOW), every_minute) == []
    assert _mine(replica_b.tick(now=NOW), every_minute) == []


def test_a_paused_schedule_skips_its_slots(
    engine: Engine, jobs_config: JobsConfig, every_minute: str
) -> None:
    _declare(every_minute, "all")
    scheduler = Scheduler(jobs_config)
    scheduler.tick(now=NOW - timedelta(minutes=3))
    with unit_of_work() as session:
        assert admin.set_paused(session, every_minute, True) == "schedule"
    assert _mine(scheduler.tick(now=NOW), every_minute) == []
    with unit_of_work() as session:
        admin.set_paused(session, every_minute, False)
    assert _mine(scheduler.tick(now=NOW), every_minute) == []  # paused slots are not caught up
    fired = _mine(scheduler.tick(now=NOW + timedelta(minutes=1)), every_minute)
    assert [slot.slot for slot in fired] == [datetime(2025, 6, 1, 12, 1, tzinfo=UTC)]


def test_a_run_whose_worker_died_runs_again_then_fails_for_good(
    engine: Engine, jobs_config: JobsConfig
) -> None:
    with unit_of_work() as session:
        run_id = enqueue(session, "tests.fails", {})  # max_attempts=2
    for attempt in (1, 2):
        with unit_of_work() as session:
            assert queue.claim_batch(
                session,
                owner="dead-worker",
                queues=["default"],
                job_names=["tests.fails"],
                limit=1,
                lease_seconds=0.01,
            ) == [run_id]
        wait_for(lambda: run_row(run_id).lease_expires_at < utcnow(), 2, "lease expiry")  # type: ignore[operator]
        Scheduler(jobs_config).tick()
        run = run_row(run_id)
        assert run.attempts == attempt
        assert run.error is not None and run.error.startswith("WorkerLost: lease of dead-worker")
        assert run.status == ("queued" if attempt == 1 else "failed")


def test_queue_gauges_show_depth_and_lag(engine: Engine, jobs_config: JobsConfig) -> None:
    with unit_of_work() as session:
        run_id = enqueue(session, "tests.echo", {"value": 1})
        session.execute(
            update(JobRun)
            .where(JobRun.id == run_id)
            .values(run_at=utcnow() - timedelta(seconds=30))
        )
    Scheduler(jobs_config).tick()
    assert REGISTRY.get_sample_value("rampart_job_queue_depth", {"queue": "default"}) == 1
    lag = REGISTRY.get_sample_value("rampart_job_queue_lag_seconds", {"queue": "default"})
    assert lag is not None and 29 <= lag < 60


def test_builtin_audit_checkpoint_signs_the_ledger(
    engine: Engine, jobs_config: JobsConfig, key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAMPART_AUDIT_CHECKPOINT_EVERY", "1")
    get_settings.cache_clear()
    with unit_of_work() as session:
        record_event(session, event_type="tests.something", resource="tests:1")
        run_id = admin.run_now(session, "audit.checkpoint")
    running = JobsRuntime(jobs_config, scheduler=False, workers=True).start()
    try:
        wait_for(lambda: run_row(run_id).status != "queued", 10, "the checkpoint run")
        wait_for(lambda: run_row(run_id).status in ("succeeded", "failed"), 10, "its end")
    finally:
        running.stop(timeout=5)
    run = run_row(run_id)
    assert run.status == "succeeded", run.error
    with unit_of_work() as session:
        checkpoints = list(session.scalars(select(AuditCheckpoint)))
    # Entries 1 (the event) and 2 (run-now's audit entry) are signed; the run's own job.run
    # entry (3) is written after the checkpoint in the same transaction.
    assert run.result == {"checkpoints": 2, "through_seq": 2}
    assert [checkpoint.seq for checkpoint in checkpoints] == [1, 2]


def test_builtin_prune_runs_deletes_only_old_finished_runs(
    engine: Engine, jobs_config: JobsConfig
) -> None:
    with unit_of_work() as session:
        old = enqueue(session, "tests.echo", {"value": 1})
        recent = enqueue(session, "tests.echo", {"value": 2})
        waiting = enqueue(session, "tests.echo", {"value": 3})
        long_ago = utcnow() - timedelta(days=40)
        session.execute(
            update(JobRun)
            .where(JobRun.id.in_([old, recent]))
            .values(status="succeeded", finished_at=utcnow())
        )
        session.execute(update(JobRun).where(JobRun.id == old).values(finished_at=long_ago))
        session.execute(update(JobRun).where(JobRun.id == waiting).values(enqueued_at=long_ago))
        prune = admin.run_now(session, "jobs.prune_runs", {"older_than_days": 30})
    running = JobsRuntime(jobs_config, scheduler=False, workers=True).start()
    try:
        wait_for(lambda: run_row(prune).status == "succeeded", 10, "the prune run")
    finally:
        running.stop(timeout=5)
    assert run_row(prune).result == {"deleted": 1, "older_than_days": 30}
    with unit_of_work() as session:
        remaining = {run.id for run in session.scalars(select(JobRun))}
    assert old not in remaining and recent in remaining and prune in remaining
