"""What operators see and do (`rampart jobs ...`): list jobs and schedules, read run records,
run a job now, pause and resume. Flushes, never commits."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.audit.service import record_event
from core.clock import utcnow
from core.errors import NotFound, ValidationFailed
from core.jobs import queue
from core.jobs.models import RUN_STATUSES, JobRun, JobSchedule, JobState
from core.jobs.registry import all_jobs, all_schedules, get_job, get_schedule
from core.jobs.scheduler import sync_schedules


def list_jobs(session: Session) -> list[dict[str, Any]]:
    """Every declared job and schedule with its state, one dict each (``kind`` tells which)."""
    states = {state.job_name: state for state in session.scalars(select(JobState))}
    rows = {row.name: row for row in session.scalars(select(JobSchedule))}
    listing: list[dict[str, Any]] = []
    for spec in all_jobs():
        state = states.get(spec.name)
        listing.append(
            {
                "kind": "job",
                "name": spec.name,
                "job": spec.name,
                "timing": None,
                "queue": spec.queue,
                "paused": bool(state and state.paused),
                "next_slot": None,
                "last_slot": None,
                "consecutive_failures": state.consecutive_failures if state else 0,
                "security_relevant": spec.security_relevant,
                "description": spec.description,
            }
        )
    for declared in all_schedules():
        row = rows.get(declared.name)
        listing.append(
            {
                "kind": "schedule",
                "name": declared.name,
                "job": declared.job_name,
                "timing": declared.timing.describe(),
                "queue": get_job(declared.job_name).queue,
                "paused": bool(row and row.paused),
                "next_slot": _iso(row.next_slot) if row else None,
                "last_slot": _iso(row.last_slot) if row else None,
                "consecutive_failures": None,
                "security_relevant": None,
                "description": f"catch-up: {declared.catch_up}",
            }
        )
    return listing


def list_runs(
    session: Session,
    *,
    job_name: str | None = None,
    status: str | None = None,
    failed_only: bool = False,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Newest first. ``failed_only``: final failures and attempts that failed and wait to retry."""
    if status is not None and status not in RUN_STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(RUN_STATUSES)}")
    query = select(JobRun).order_by(JobRun.enqueued_at.desc(), JobRun.id.desc()).limit(limit)
    if job_name is not None:
        query = query.where(JobRun.job_name == job_name)
    if status is not None:
        query = query.where(JobRun.status == status)
    if failed_only:
        query = query.where(or_(JobRun.status == "failed", JobRun.error.is_not(None)))
    return [run_record(run) for run in session.scalars(query)]


def run_record(run: JobRun) -> dict[str, Any]:
    return {
        "id": str(run.id),
        "job": run.job_name,
        "status": run.status,
        "attempts": run.attempts,
        "max_attempts": run.max_attempts,
        "schedule": run.schedule_name,
        "scheduled_for": _iso(run.scheduled_for),
        "enqueued_at": _iso(run.enqueued_at),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "error": run.error,
        "result": run.result,
        "args": run.args,
    }


def run_now(session: Session, name: str, args: dict[str, Any] | None = None) -> uuid.UUID:
    """Enqueue job ``name`` (or the job of schedule ``name``, with its arguments) to run now."""
    declared = get_schedule(name)
    if declared is not None:
        job_name = declared.job_name
        args = declared.args if args is None else args
    else:
        job_name = name
    run_id = queue.enqueue(session, job_name, args or {})
    record_event(
        session,
        event_type="job.run_now",
        resource=f"job:{job_name}",
        details={"run_id": str(run_id)},
    )
    return run_id


def set_paused(session: Session, name: str, paused: bool) -> str:
    """Pause or resume a schedule or a job by name; returns which kind it was. A paused job's
    runs stay queued; a paused schedule skips its slots (no catch-up for them on resume)."""
    kind: str
    declared = get_schedule(name)
    if declared is not None:
        sync_schedules(session, [declared], utcnow())
        found = session.execute(
            update(JobSchedule)
            .where(JobSchedule.name == name)
            .values(paused=paused)
            .execution_options(synchronize_session=False)
        )
        if getattr(found, "rowcount", 0) != 1:
            raise NotFound(f"schedule {name!r} is not in the database")
        kind = "schedule"
    else:
        get_job(name)  # unknown names are refused with a clear error
        insert = (
            postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        )
        session.execute(
            insert(JobState)
            .values(job_name=name, paused=paused, consecutive_failures=0)
            .on_conflict_do_update(index_elements=[JobState.job_name], set_={"paused": paused})
        )
        kind = "job"
    record_event(
        session,
        event_type="job.paused" if paused else "job.resumed",
        resource=f"{kind}:{name}",
    )
    return kind


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
