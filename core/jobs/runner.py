"""Runs one claimed run: the job body and the run's completion in one transaction, a timeout
enforced in the job's thread, retries with backoff, run records, audit entries and alerts."""

from __future__ import annotations

import contextvars
import ctypes
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from core import context
from core.audit.service import record_event
from core.clock import utcnow
from core.database import unit_of_work
from core.errors import RampartError
from core.jobs import metrics, queue
from core.jobs.config import JobsConfig
from core.jobs.exceptions import JobTimeout, LeaseLost
from core.jobs.registry import JobSpec, get_job
from core.logging import get_logger
from core.sensitive import mask_card_numbers, redact

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RunContext:
    """What a job may want to know about the run it is executing."""

    run_id: uuid.UUID
    job_name: str
    attempt: int
    idempotency_key: str | None
    scheduled_for: datetime | None


_current_run: contextvars.ContextVar[RunContext | None] = contextvars.ContextVar(
    "rampart_current_run", default=None
)


def current_run() -> RunContext:
    """The run being executed; jobs pass ``idempotency_key`` to external systems with it."""
    run = _current_run.get()
    if run is None:
        raise RuntimeError("current_run() called outside a job")
    return run


def describe_error(exc: BaseException) -> str:
    """Class and message, card numbers masked; the ledger and logs refuse them anyway."""
    message = str(exc) or exc.__class__.__name__
    return mask_card_numbers(f"{exc.__class__.__name__}: {message}")


class _Deadline:
    """Raises JobTimeout in the job's thread when the timeout passes; like Dramatiq's TimeLimit,
    it interrupts Python code, not a system call already blocking (statement_timeout covers SQL)."""

    def __init__(self, seconds: float) -> None:
        self._thread_id = threading.get_ident()
        self._lock = threading.Lock()
        self._done = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if not self._done:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(self._thread_id), ctypes.py_object(JobTimeout)
                )

    def cancel(self) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()


def execute_run(
    run_id: uuid.UUID,
    *,
    owner: str,
    config: JobsConfig,
    factory: sessionmaker[Session] | None = None,
) -> str:
    """Execute a run this worker claimed; returns succeeded, retrying, failed or lost."""
    with unit_of_work(factory) as session:
        run = queue.snapshot(session, run_id)
    started = time.perf_counter()
    metrics.START_LAG.labels(run.job_name).observe(
        max(0.0, (utcnow() - max(run.run_at, run.enqueued_at)).total_seconds())
    )
    try:
        spec = get_job(run.job_name)
        args = spec.validate_args(run.args)
    except RampartError as exc:
        return _record_failure(run, None, owner, exc, config, factory, started)

    acting = context.set_current(context.ActingContext(actor=f"job:{run.job_name}"))
    current = _current_run.set(
        RunContext(run.id, run.job_name, run.attempts, run.idempotency_key, run.scheduled_for)
    )
    deadline = _Deadline(spec.timeout)
    try:
        with unit_of_work(factory) as session:
            _limit_statements(session, spec.timeout)
            result = spec.function(session, args)
            deadline.cancel()
            clean = redact(dict(result)) if isinstance(result, Mapping) else None
            queue.complete(session, run.id, job_name=spec.name, owner=owner, result=clean)
            if spec.security_relevant:
                _audit_run(session, spec, run, "success", None)
    except LeaseLost:
        log.warning("job run taken over before it finished", run_id=str(run.id))
        metrics.RUNS.labels(run.job_name, "lost").inc()
        return "lost"
    except (Exception, JobTimeout) as exc:
        deadline.cancel()
        return _record_failure(run, spec, owner, exc, config, factory, started)
    finally:
        deadline.cancel()
        _current_run.reset(current)
        context.reset(acting)
    metrics.DURATION.labels(spec.name).observe(time.perf_counter() - started)
    metrics.RUNS.labels(spec.name, "succeeded").inc()
    return "succeeded"


def _limit_statements(session: Session, timeout: float) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL statement_timeout = {int(timeout * 1000)}"))


def _record_failure(
    run: queue.RunSnapshot,
    spec: JobSpec[Any] | None,
    owner: str | None,
    exc: BaseException,
    config: JobsConfig,
    factory: sessionmaker[Session] | None,
    started: float,
) -> str:
    error = describe_error(exc) if not isinstance(exc, JobTimeout) else "JobTimeout: timed out"
    log.warning("job attempt failed", job=run.job_name, run_id=str(run.id))
    retry_in = None
    if spec is not None and run.attempts < run.max_attempts:
        retry_in = spec.retry.delay_after(run.attempts)
    with unit_of_work(factory) as session:
        status = queue.fail(session, run.id, owner=owner, error=error, retry_in=retry_in)
        if status is None:
            metrics.RUNS.labels(run.job_name, "lost").inc()
            return "lost"
        note_failure(session, run, spec, error, final=status == "failed", config=config)
    outcome = "retrying" if status == "queued" else "failed"
    metrics.DURATION.labels(run.job_name).observe(time.perf_counter() - started)
    metrics.RUNS.labels(run.job_name, outcome).inc()
    return outcome


def note_failure(
    session: Session,
    run: queue.RunSnapshot,
    spec: JobSpec[Any] | None,
    error: str,
    *,
    final: bool,
    config: JobsConfig,
) -> None:
    """Failure streak, alert after ``alert_after_failures`` in a row, audit entry when the job is
    security-relevant; all in the transaction that records the failed attempt."""
    metrics.FAILURES.labels(run.job_name).inc()
    streak = queue.count_failure(session, run.job_name)
    if spec is not None and spec.security_relevant:
        _audit_run(session, spec, run, "failure", error if final else None)
    if streak == config.alert_after_failures:
        queue.mark_alerted(session, run.job_name)
        record_event(
            session,
            event_type="job.alert",
            outcome="failure",
            resource=f"job:{run.job_name}",
            details={
                "consecutive_failures": streak,
                "run_id": str(run.id),
                "error_class": error.split(":", 1)[0],
            },
            actor="system:jobs",
        )
        metrics.ALERTS.labels(run.job_name).inc()
        log.error("job keeps failing", job=run.job_name, failures=streak)


def _audit_run(
    session: Session, spec: JobSpec[Any], run: queue.RunSnapshot, outcome: str, error: str | None
) -> None:
    details: dict[str, Any] = {"run_id": str(run.id), "attempt": run.attempts}
    if run.scheduled_for is not None:
        details["scheduled_for"] = run.scheduled_for.isoformat()
    if error is not None:
        details["error_class"] = error.split(":", 1)[0]
    record_event(
        session,
        event_type="job.run",
        outcome=outcome,
        resource=f"job:{spec.name}",
        details=details,
        actor=f"job:{spec.name}",
    )
