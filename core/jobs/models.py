"""Tables of the job system: schedules and their last fired slot, runs (the queue and its
history in one table), and per-job state (paused, consecutive failures)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.database import Base, UTCDateTime
from core.ids import uuid7

# A retry waits as `queued` (its last error kept); `failed` is final.
RUN_STATUSES = ("queued", "running", "succeeded", "failed")


class JobSchedule(Base):
    """A declared schedule as the database knows it. ``last_slot`` is compare-and-set by the
    replica that fires a slot, so each slot fires once however many schedulers tick."""

    __tablename__ = "job_schedules"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    job_name: Mapped[str] = mapped_column(String(200))
    timing: Mapped[str] = mapped_column(String(200))
    args: Mapped[dict[str, Any]] = mapped_column(JSON)
    catch_up: Mapped[str] = mapped_column(String(10))
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    last_slot: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_slot: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobRun(Base):
    """One enqueued job from acceptance to its final outcome. Queued and running rows are the
    queue; finished rows are the run history."""

    __tablename__ = "job_runs"
    __table_args__ = (
        UniqueConstraint("job_name", "idempotency_key", name="uq_job_runs_idempotency"),
        UniqueConstraint("schedule_name", "scheduled_for", name="uq_job_runs_slot"),
        Index("ix_job_runs_claim", "status", "queue", "run_at"),
        Index("ix_job_runs_job_enqueued", "job_name", "enqueued_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    job_name: Mapped[str] = mapped_column(String(200))
    queue: Mapped[str] = mapped_column(String(100))
    args: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str | None] = mapped_column(String(300))
    schedule_name: Mapped[str | None] = mapped_column(String(200))
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enqueued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class JobState(Base):
    """Per-job operator switches and health: paused jobs are not claimed; a streak of failures
    raises one alert."""

    __tablename__ = "job_states"

    job_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_alert_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
