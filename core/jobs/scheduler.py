"""The scheduler tick: fire due schedule slots exactly once across replicas, recover runs whose
worker died, and refresh queue gauges. Any number of processes may tick at the same time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from core.clock import utcnow
from core.database import unit_of_work
from core.jobs import metrics, queue
from core.jobs.config import JobsConfig
from core.jobs.models import JobRun, JobSchedule, JobState
from core.jobs.registry import ScheduleSpec, all_jobs, all_schedules, get_job
from core.jobs.runner import note_failure


@dataclass(frozen=True, slots=True)
class FiredSlot:
    schedule: str
    slot: datetime
    run_id: Any


def sync_schedules(session: Session, specs: list[ScheduleSpec], now: datetime) -> None:
    """Make the database know every declared schedule; a new one starts from its latest past
    slot (nothing to catch up), a changed one keeps its last fired slot."""
    if not specs:
        return
    known = {row.name: row for row in session.scalars(select(JobSchedule))}
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for spec in specs:
        fields = {
            "job_name": spec.job_name,
            "timing": spec.timing.describe(),
            "args": spec.args,
            "catch_up": spec.catch_up,
        }
        row = known.get(spec.name)
        if row is None:
            session.execute(
                insert(JobSchedule)
                .values(
                    name=spec.name,
                    paused=False,
                    last_slot=spec.timing.latest_at_or_before(now),
                    next_slot=spec.timing.next_after(now),
                    updated_at=now,
                    **fields,
                )
                .on_conflict_do_nothing()
            )
        elif any(getattr(row, key) != value for key, value in fields.items()):
            last = row.last_slot or spec.timing.latest_at_or_before(now)
            session.execute(
                update(JobSchedule)
                .where(JobSchedule.name == spec.name)
                .values(next_slot=spec.timing.next_after(last), updated_at=now, **fields)
                .execution_options(synchronize_session=False)
            )


def fire_due_slots(
    session: Session, spec: ScheduleSpec, config: JobsConfig, now: datetime
) -> list[FiredSlot]:
    """Fire the due slots of one schedule, in the caller's transaction. The compare-and-set on
    ``last_slot`` lets one replica win each slot; the unique (schedule, slot) index on runs backs
    it up."""
    row = session.get(JobSchedule, spec.name, populate_existing=True)
    if row is None:
        return []
    observed = row.last_slot
    after = observed or spec.timing.latest_at_or_before(now)
    due = list(spec.timing.slots_between(after, now, config.max_catch_up_slots))
    if not due:
        return []
    job_paused = session.scalar(select(JobState.paused).where(JobState.job_name == spec.job_name))
    chosen: list[datetime]
    if row.paused or job_paused:
        chosen = []  # slots that fall while paused are skipped, not caught up on resume
    elif spec.catch_up == "all":
        chosen = due
    elif spec.catch_up == "latest":
        chosen = due[-1:]
    else:
        grace = timedelta(seconds=config.misfire_grace_seconds)
        chosen = [slot for slot in due[-1:] if now - slot <= grace]
    condition = (
        JobSchedule.last_slot.is_(None) if observed is None else JobSchedule.last_slot == observed
    )
    won: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(JobSchedule)
        .where(JobSchedule.name == spec.name, condition)
        .values(last_slot=due[-1], next_slot=spec.timing.next_after(now), updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:
        return []  # another replica fired these slots
    fired = []
    for slot in chosen:
        run_id = queue.enqueue(
            session,
            spec.job_name,
            spec.args,
            idempotency_key=f"{spec.name}@{slot.isoformat()}",
            schedule_name=spec.name,
            scheduled_for=slot,
        )
        metrics.SLOT_DRIFT.labels(spec.name).observe(max(0.0, (now - slot).total_seconds()))
        fired.append(FiredSlot(spec.name, slot, run_id))
    return fired


def next_slots(session: Session) -> dict[str, datetime | None]:
    return {
        name: slot
        for name, slot in session.execute(select(JobSchedule.name, JobSchedule.next_slot))
    }


def recover_lost_runs(session: Session, config: JobsConfig) -> int:
    """Put runs whose worker died back in the queue (at least once), or fail them for good when
    they used all their attempts."""
    lost = queue.lost_runs(session)
    declared = {spec.name for spec in all_jobs()}
    for run in lost:
        error = f"WorkerLost: lease of {run.lease_owner} expired during attempt {run.attempts}"
        final = run.attempts >= run.max_attempts
        snapshot = queue.snapshot(session, run.id)
        queue.fail(session, run.id, owner=None, error=error, retry_in=None if final else 0.0)
        spec = get_job(run.job_name) if run.job_name in declared else None
        note_failure(session, snapshot, spec, error, final=final, config=config)
        metrics.RUNS.labels(run.job_name, "lost").inc()
    return len(lost)


def refresh_queue_gauges(session: Session) -> None:
    now = utcnow()
    waiting = session.execute(
        select(JobRun.queue, func.count(), func.min(JobRun.run_at))
        .where(JobRun.status == "queued", JobRun.run_at <= now)
        .group_by(JobRun.queue)
    )
    seen = set()
    for queue_name, depth, oldest in waiting:
        seen.add(queue_name)
        metrics.QUEUE_DEPTH.labels(queue_name).set(depth)
        lag = (now - oldest).total_seconds() if oldest is not None else 0.0
        metrics.QUEUE_LAG.labels(queue_name).set(max(0.0, lag))
    running = session.execute(
        select(JobRun.queue, func.count()).where(JobRun.status == "running").group_by(JobRun.queue)
    )
    for queue_name, count in running:
        metrics.RUNNING.labels(queue_name).set(count)
    for queue_name in {"default", *(spec.queue for spec in all_jobs())} - seen:
        metrics.QUEUE_DEPTH.labels(queue_name).set(0)
        metrics.QUEUE_LAG.labels(queue_name).set(0)


class Scheduler:
    """One tick = sync new schedules, fire due slots (one transaction per schedule), recover lost
    runs, refresh gauges now and then."""

    def __init__(self, config: JobsConfig, factory: sessionmaker[Session] | None = None) -> None:
        self.config = config
        self.factory = factory
        self._synced: set[str] = set()
        self._next: dict[str, datetime | None] = {}
        self._gauges_at: datetime | None = None

    def tick(self, now: datetime | None = None) -> list[FiredSlot]:
        now = now or utcnow()
        specs = all_schedules()
        missing = [spec for spec in specs if spec.name not in self._synced]
        if missing:
            with unit_of_work(self.factory) as session:
                sync_schedules(session, missing, now)
            self._synced.update(spec.name for spec in missing)
        fired: list[FiredSlot] = []
        for spec in specs:
            upcoming = self._next.get(spec.name)
            if upcoming is not None and upcoming > now:
                continue
            with unit_of_work(self.factory) as session:
                fired.extend(fire_due_slots(session, spec, self.config, now))
        # Reads first: an idle tick takes no write lock (SQLite queues every writer behind it).
        with unit_of_work(self.factory, read_only=True) as session:
            self._next = next_slots(session)
            lost = queue.has_lost_runs(session)
        if lost:
            with unit_of_work(self.factory) as session:
                recover_lost_runs(session, self.config)
        refresh_due = self._gauges_at is None or (now - self._gauges_at).total_seconds() >= (
            self.config.metrics_refresh_seconds
        )
        if refresh_due:
            with unit_of_work(self.factory, read_only=True) as session:
                refresh_queue_gauges(session)
            self._gauges_at = now
        return fired

    def seconds_until_next(self, now: datetime | None = None) -> float:
        now = now or utcnow()
        upcoming = [slot for slot in self._next.values() if slot is not None]
        wait = self.config.max_scheduler_sleep
        if upcoming:
            wait = min(wait, (min(upcoming) - now).total_seconds())
        return max(0.0, wait)
