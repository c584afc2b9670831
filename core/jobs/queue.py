"""The queue in the database: enqueue in the caller's transaction, claim with a lease, complete,
fail with backoff, heartbeat, and recover runs whose worker died. Flushes, never commits."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, CursorResult, Select, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.ids import uuid7
from core.jobs import metrics, notify
from core.jobs.exceptions import LeaseLost
from core.jobs.models import JobRun, JobState
from core.jobs.registry import get_job

_ERROR_LIMIT = 2000


@dataclass(frozen=True, slots=True)
class RunSnapshot:
    """What a worker needs of a claimed run, read once before the job's own transaction."""

    id: uuid.UUID
    job_name: str
    args: dict[str, Any]
    attempts: int
    max_attempts: int
    idempotency_key: str | None
    schedule_name: str | None
    scheduled_for: datetime | None
    run_at: datetime
    enqueued_at: datetime


def enqueue(
    session: Session,
    job_name: str,
    args: Mapping[str, Any] | BaseModel | None = None,
    *,
    run_at: datetime | None = None,
    idempotency_key: str | None = None,
    schedule_name: str | None = None,
    scheduled_for: datetime | None = None,
) -> uuid.UUID:
    """Accept a run in the caller's transaction (it exists iff the caller commits) and return its
    id. An unknown job or bad arguments raise ValidationFailed here, not when the run starts.
    A second enqueue with the same idempotency key returns the first run's id."""
    spec = get_job(job_name)
    typed = spec.validate_args(args)
    data = spec.dump_args(typed)
    if idempotency_key is None and spec.idempotency_key is not None:
        idempotency_key = spec.idempotency_key(typed)
    now = utcnow()
    due = max(run_at, now) if run_at is not None else now
    publish = notify.publishes_on_commit()
    values: dict[str, Any] = {
        "id": uuid7(),
        "job_name": spec.name,
        "queue": spec.queue,
        "args": data,
        "status": "queued",
        "attempts": 0,
        "max_attempts": spec.retry.max_attempts,
        "idempotency_key": idempotency_key,
        "schedule_name": schedule_name,
        "scheduled_for": scheduled_for,
        "enqueued_at": now,
        "run_at": due,
        # Stamped before commit: a crash between commit and publish leaves an old stamp,
        # which the sweeper re-publishes.
        "published_at": now if publish and due <= now else None,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    # RETURNING tells a fresh insert from a duplicate on both dialects (rowcount does not).
    inserted: uuid.UUID | None = session.scalar(
        insert(JobRun).values(values).on_conflict_do_nothing().returning(JobRun.id)
    )
    if inserted is None:
        return _existing_run(session, spec.name, idempotency_key, schedule_name, scheduled_for)
    notify.remember(session, inserted, spec.queue, due)
    metrics.ENQUEUED.labels(spec.name).inc()
    return inserted


def _existing_run(
    session: Session,
    job_name: str,
    idempotency_key: str | None,
    schedule_name: str | None,
    scheduled_for: datetime | None,
) -> uuid.UUID:
    query = select(JobRun.id)
    if schedule_name is not None and scheduled_for is not None:
        query = query.where(
            JobRun.schedule_name == schedule_name, JobRun.scheduled_for == scheduled_for
        )
    else:
        query = query.where(JobRun.job_name == job_name, JobRun.idempotency_key == idempotency_key)
    found = session.scalars(query).first()
    if found is None:  # the other run was pruned between our insert and this read
        found = session.scalars(
            select(JobRun.id).where(
                JobRun.job_name == job_name, JobRun.idempotency_key == idempotency_key
            )
        ).one()
    return found


def _paused_jobs() -> Select[Any]:
    return select(JobState.job_name).where(JobState.paused.is_(True))


def _due_runs(
    now: datetime, queues: Collection[str], job_names: Collection[str]
) -> tuple[ColumnElement[bool], ...]:
    """Queued runs of these queues and jobs whose time has come, their job not paused: what
    :func:`claim_batch` takes and :func:`has_due_runs` looks for."""
    return (
        JobRun.status == "queued",
        JobRun.run_at <= now,
        JobRun.queue.in_(list(queues)),
        JobRun.job_name.in_(list(job_names)),
        JobRun.job_name.not_in(_paused_jobs()),
    )


def claim_batch(
    session: Session,
    *,
    owner: str,
    queues: Collection[str],
    job_names: Collection[str],
    limit: int,
    lease_seconds: float,
) -> list[uuid.UUID]:
    """Take up to ``limit`` due runs for this worker. PostgreSQL skips rows other workers hold;
    SQLite's BEGIN IMMEDIATE already serializes claimers."""
    if limit <= 0 or not job_names:
        return []
    now = utcnow()
    ids = list(
        session.scalars(
            select(JobRun.id)
            .where(*_due_runs(now, queues, job_names))
            .order_by(JobRun.run_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        session.execute(
            update(JobRun)
            .where(JobRun.id.in_(ids))
            .values(_running(owner, now, lease_seconds))
            .execution_options(synchronize_session=False)
        )
    return ids


def has_due_runs(session: Session, *, queues: Collection[str], job_names: Collection[str]) -> bool:
    """Whether :func:`claim_batch` could find anything: a read, so an idle worker's poll never
    takes the write lock (on SQLite every write transaction queues behind the others)."""
    if not job_names:
        return False
    found = session.scalar(
        select(JobRun.id).where(*_due_runs(utcnow(), queues, job_names)).limit(1)
    )
    return found is not None


def has_lost_runs(session: Session) -> bool:
    """Whether :func:`lost_runs` would find anything (a read; see :func:`has_due_runs`)."""
    found = session.scalar(
        select(JobRun.id)
        .where(JobRun.status == "running", JobRun.lease_expires_at < utcnow())
        .limit(1)
    )
    return found is not None


def claim_run(session: Session, run_id: uuid.UUID, *, owner: str, lease_seconds: float) -> bool:
    """Take one run by id (a broker message names it); false when another worker has it, it is
    not due, or its job is paused."""
    now = utcnow()
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(JobRun)
        .where(
            JobRun.id == run_id,
            JobRun.status == "queued",
            JobRun.run_at <= now,
            JobRun.job_name.not_in(_paused_jobs()),
        )
        .values(_running(owner, now, lease_seconds))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _running(owner: str, now: datetime, lease_seconds: float) -> dict[str, Any]:
    return {
        "status": "running",
        "lease_owner": owner,
        "lease_expires_at": now + timedelta(seconds=lease_seconds),
        "attempts": JobRun.attempts + 1,
        "started_at": now,
    }


def snapshot(session: Session, run_id: uuid.UUID) -> RunSnapshot:
    run = session.get_one(JobRun, run_id)
    return RunSnapshot(
        id=run.id,
        job_name=run.job_name,
        args=dict(run.args),
        attempts=run.attempts,
        max_attempts=run.max_attempts,
        idempotency_key=run.idempotency_key,
        schedule_name=run.schedule_name,
        scheduled_for=run.scheduled_for,
        run_at=run.run_at,
        enqueued_at=run.enqueued_at,
    )


def job_name_of(session: Session, run_id: uuid.UUID) -> str | None:
    return session.scalar(select(JobRun.job_name).where(JobRun.id == run_id))


def complete(
    session: Session,
    run_id: uuid.UUID,
    *,
    job_name: str,
    owner: str,
    result: Mapping[str, Any] | None,
) -> None:
    """Mark the run succeeded in the job's own transaction, so its effects and its completion
    commit together. Raises LeaseLost (rolling the effects back) if another worker took it."""
    outcome: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(JobRun)
        .where(JobRun.id == run_id, JobRun.status == "running", JobRun.lease_owner == owner)
        .values(
            status="succeeded",
            finished_at=utcnow(),
            lease_owner=None,
            lease_expires_at=None,
            error=None,
            result=dict(result) if result is not None else None,
        )
        .execution_options(synchronize_session=False)
    )
    if outcome.rowcount != 1:
        raise LeaseLost(f"run {run_id} was taken over before it finished")
    session.execute(
        update(JobState)
        .where(JobState.job_name == job_name, JobState.consecutive_failures > 0)
        .values(consecutive_failures=0)
        .execution_options(synchronize_session=False)
    )


def fail(
    session: Session,
    run_id: uuid.UUID,
    *,
    owner: str | None,
    error: str,
    retry_in: float | None,
) -> str | None:
    """Record a failed attempt: back to ``queued`` after ``retry_in`` seconds, or ``failed`` for
    good when ``retry_in`` is None. Returns the new status, None if the run is no longer ours."""
    now = utcnow()
    conditions = [JobRun.id == run_id, JobRun.status == "running"]
    if owner is not None:
        conditions.append(JobRun.lease_owner == owner)
    values: dict[str, Any] = {
        "lease_owner": None,
        "lease_expires_at": None,
        "error": error[:_ERROR_LIMIT],
    }
    if retry_in is None:
        values.update(status="failed", finished_at=now)
    else:
        values.update(status="queued", run_at=now + timedelta(seconds=retry_in), published_at=None)
    outcome: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(JobRun)
        .where(*conditions)
        .values(values)
        .execution_options(synchronize_session=False)
    )
    if outcome.rowcount != 1:
        return None
    return str(values["status"])


def count_failure(session: Session, job_name: str) -> int:
    """Add one to the job's failure streak and return it."""
    now = utcnow()
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(JobState).values(
        job_name=job_name, paused=False, consecutive_failures=1, last_failure_at=now
    )
    statement = statement.on_conflict_do_update(
        index_elements=[JobState.job_name],
        set_={
            "consecutive_failures": JobState.consecutive_failures + 1,
            "last_failure_at": now,
        },
    )
    session.execute(statement)
    return session.scalars(
        select(JobState.consecutive_failures).where(JobState.job_name == job_name)
    ).one()


def mark_alerted(session: Session, job_name: str) -> None:
    session.execute(
        update(JobState)
        .where(JobState.job_name == job_name)
        .values(last_alert_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def extend_leases(
    session: Session, run_ids: Collection[uuid.UUID], *, owner: str, lease_seconds: float
) -> int:
    if not run_ids:
        return 0
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(JobRun)
        .where(JobRun.id.in_(list(run_ids)), JobRun.lease_owner == owner)
        .where(JobRun.status == "running")
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def lost_runs(session: Session, *, limit: int = 100) -> list[JobRun]:
    """Running runs whose lease expired: their worker died (kill -9, crash, lost host)."""
    return list(
        session.scalars(
            select(JobRun)
            .where(JobRun.status == "running", JobRun.lease_expires_at < utcnow())
            .order_by(JobRun.lease_expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def due_unpublished(
    session: Session, *, republish_after: float, limit: int = 500
) -> list[tuple[uuid.UUID, str]]:
    """Queued, due runs whose broker message was never sent or may be lost; stamps them."""
    now = utcnow()
    stale = now - timedelta(seconds=republish_after)
    rows = [
        (run_id, queue_name)
        for run_id, queue_name in session.execute(
            select(JobRun.id, JobRun.queue)
            .where(
                JobRun.status == "queued",
                JobRun.run_at <= now,
                (JobRun.published_at.is_(None)) | (JobRun.published_at < stale),
            )
            .order_by(JobRun.run_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ]
    if rows:
        session.execute(
            update(JobRun)
            .where(JobRun.id.in_([run_id for run_id, _ in rows]))
            .values(published_at=now)
            .execution_options(synchronize_session=False)
        )
    return rows
