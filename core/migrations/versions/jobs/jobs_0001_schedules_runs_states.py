"""Jobs: schedules (last fired slot), runs (queue and history), per-job states.

Revision ID: jobs_0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.database

# revision identifiers, used by Alembic.
revision: str = "jobs_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("jobs",)
depends_on: str | Sequence[str] | None = None


def _utc() -> core.database.UTCDateTime:
    return core.database.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("job_name", sa.String(length=200), nullable=False),
        sa.Column("queue", sa.String(length=100), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=300), nullable=True),
        sa.Column("schedule_name", sa.String(length=200), nullable=True),
        sa.Column("scheduled_for", _utc(), nullable=True),
        sa.Column("enqueued_at", _utc(), nullable=False),
        sa.Column("run_at", _utc(), nullable=False),
        sa.Column("published_at", _utc(), nullable=True),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", _utc(), nullable=True),
        sa.Column("started_at", _utc(), nullable=True),
        sa.Column("finished_at", _utc(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
        sa.UniqueConstraint("job_name", "idempotency_key", name="uq_job_runs_idempotency"),
        sa.UniqueConstraint("schedule_name", "scheduled_for", name="uq_job_runs_slot"),
    )
    op.create_index("ix_job_runs_claim", "job_runs", ["status", "queue", "run_at"])
    op.create_index("ix_job_runs_job_enqueued", "job_runs", ["job_name", "enqueued_at"])
    op.create_table(
        "job_schedules",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("job_name", sa.String(length=200), nullable=False),
        sa.Column("timing", sa.String(length=200), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("catch_up", sa.String(length=10), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("last_slot", _utc(), nullable=True),
        sa.Column("next_slot", _utc(), nullable=True),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_schedules")),
    )
    op.create_table(
        "job_states",
        sa.Column("job_name", sa.String(length=200), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", _utc(), nullable=True),
        sa.Column("last_alert_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("job_name", name=op.f("pk_job_states")),
    )


def downgrade() -> None:
    op.drop_table("job_states")
    op.drop_table("job_schedules")
    op.drop_index("ix_job_runs_job_enqueued", table_name="job_runs")
    op.drop_index("ix_job_runs_claim", table_name="job_runs")
    op.drop_table("job_runs")
