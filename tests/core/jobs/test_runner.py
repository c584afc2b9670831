"""The embedded engine in this process: runs, retries, timeouts, run records, audit entries,
alerts, pause/resume and metrics, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.engine import Engine

from core.audit.models import AuditEntry
from core.database import unit_of_work
from core.jobs import JobsConfig, JobsRuntime, admin, enqueue, queue, schedule, start_embedded
from core.jobs.models import JobState
from core.jobs.registry import forget_schedule
from core.settings import Settings, get_settings
from tests.core.jobs.conftest import run_row, runs_of, wait_for


@pytest.fixture
def runtime(engine: Engine, jobs_config: JobsConfig) -> Iterator[JobsRuntime]:
    running = JobsRuntime(jobs_config, scheduler=False, workers=True, concurrency=2).start()
    yield running
    running.stop(timeout=5)


def _enqueue(job_name: str, args: dict[str, object] | None = None) -> uuid.UUID:
    with unit_of_work() as session:
        return enqueue(session, job_name, args or {})


def _finished(run_id: uuid.UUID) -> bool:
    return run_row(run_id).status in ("succeeded", "failed")


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_job_runs_and_its_run_is_recorded(runtime: JobsRuntime) -> None:
    before = _sample("rampart_job_runs_total", {"job": "tests.echo", "outcome": "succeeded"})
    run_id = _enqueue("tests.echo", {"value": 5})
    wait_for(lambda: _finished(run_id), 10, "the echo run")
    run = run_row(run_id)
    assert run.status == "succeeded"
    assert run.attempts == 1
    assert run.result is not None and run.result["value"] == 5
    assert run.started_at is not None and run.finished_at is not None
    assert run.enqueued_at <= run.started_at <= run.finished_at
    assert run.lease_owner is None and run.error is None
    after = _sample("rampart_job_runs_total", {"job": "tests.echo", "outcome": "succeeded"})
    assert after == before + 1


def test_a_failing_job_retries_then_fails_and_raises_one_alert(runtime: JobsRuntime) -> None:
    card = "4111 1111 1111 1111"
    first = _enqueue("tests.fails", {"message": "upstream said no"})
    wait_for(lambda: _finished(first), 10, "the failing run")
    run = run_row(first)
    assert run.status == "failed"
    assert run.attempts == 2
    assert run.error == "RuntimeError: upstream said no"
    alerts_before = _sample("rampart_job_alerts_total", {"job": "tests.fails"})
    # The streak is already 2 (alert_after_failures=2); one more run must not alert again.
    second = _enqueue("tests.fails", {"message": "still no"})
    wait_for(lambda: _finished(second), 10, "the second failing run")
    with unit_of_work() as session:
        alerts = list(
            session.scalars(select(AuditEntry).where(AuditEntry.event_type == "job.alert"))
        )
        state = session.get_one(JobState, "tests.fails")
        failed = admin.list_runs(session, failed_only=True)
    assert len(alerts) == 1
    assert alerts[0].outcome == "failure" and alerts[0].resource == "job:tests.fails"
    assert state.consecutive_failures == 4 and state.last_alert_at is not None
    assert _sample("rampart_job_alerts_total", {"job": "tests.fails"}) == alerts_before
    assert {record["id"] for record in failed} == {str(first), str(second)}
    assert card not in str(failed)


def test_a_job_error_never_records_a_card_number(runtime: JobsRuntime) -> None:
    from core.jobs.runner import describe_error

    text = describe_error(ValueError("declined 4111-1111-1111-1111 today"))
    assert "4111" not in text and "[REDACTED]" in text


def test_a_job_past_its_timeout_is_interrupted(runtime: JobsRuntime) -> None:
    run_id = _enqueue("tests.slow")
    wait_for(lambda: _finished(run_id), 10, "the slow run")
    run = run_row(run_id)
    assert run.status == "failed"
    assert run.error is not None and run.error.startswith("JobTimeout")
    assert run.finished_at is not None and run.started_at is not None
    assert (run.finished_at - run.started_at).total_seconds() < 5


def test_security_relevant_runs_are_audited_with_their_effects(runtime: JobsRuntime) -> None:
    run_id = _enqueue("tests.audited")
    wait_for(lambda: _finished(run_id), 10, "the audited run")
    with unit_of_work() as session:
        entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
    kinds = [(entry.event_type, entry.actor, entry.outcome) for entry in entries]
    assert ("tests.effect", "job:tests.audited", "success") in kinds
    assert ("job.run", "job:tests.audited", "success") in kinds
    assert str(run_id) in next(e.details for e in entries if e.event_type == "job.run")


def test_a_paused_job_waits_until_resumed(runtime: JobsRuntime) -> None:
    with unit_of_work() as session:
        assert admin.set_paused(session, "tests.echo", True) == "job"
    run_id = _enqueue("tests.echo", {"value": 1})
    with pytest.raises(AssertionError, match="timed out"):
        wait_for(lambda: run_row(run_id).status != "queued", 0.6, "a paused run")
    with unit_of_work(read_only=True) as session:  # idle polls see nothing to claim
        assert not queue.has_due_runs(session, queues=["default"], job_names=["tests.echo"])
    with unit_of_work() as session:
        admin.set_paused(session, "tests.echo", False)
    wait_for(lambda: run_row(run_id).status == "succeeded", 10, "the resumed run")


def test_stopped_workers_leave_queued_runs_for_the_next_start(
    engine: Engine, jobs_config: JobsConfig
) -> None:
    run_id = _enqueue("tests.echo", {"value": 3})
    assert run_row(run_id).status == "queued"
    running = JobsRuntime(jobs_config, scheduler=False, workers=True).start()
    try:
        wait_for(lambda: run_row(run_id).status == "succeeded", 10, "the queued run")
    finally:
        running.stop(timeout=5)


def test_start_embedded_fires_schedules_and_runs_them_in_process(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    forget_schedule("tests.embedded_every_second")
    schedule("tests.embedded_every_second", "tests.tick", every=timedelta(seconds=1))
    handle = start_embedded(
        settings.model_copy(update={"scheduler": "embedded", "jobs_poll_seconds": 0.05})
    )
    assert handle is not None
    try:
        done = wait_for(
            lambda: [
                run
                for run in runs_of("tests.tick")
                if run.schedule_name == "tests.embedded_every_second" and run.status == "succeeded"
            ],
            10,
            "a scheduled run to finish",
        )
    finally:
        handle.stop(timeout=5)
        forget_schedule("tests.embedded_every_second")
    assert done[0].result == {"pid": os.getpid()}
    assert done[0].scheduled_for is not None and done[0].started_at is not None
    # Target < 1 s; the bound leaves room for a CI machine busy with other tests.
    assert (done[0].started_at - done[0].scheduled_for).total_seconds() < 2.0


def test_start_embedded_does_nothing_when_the_scheduler_is_off(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAMPART_SCHEDULER", "off")
    get_settings.cache_clear()
    assert start_embedded(get_settings()) is None
