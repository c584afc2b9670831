"""Scanners: per-target schedules (an ISO 8601 duration or a cron expression, the engine the
scheduled scans use, the last slot a scan was started for) and client-credentials auth (the id
of the Rampart client whose token a scan sends; no secret is stored on the target).

Revision ID: scanners_0002
Revises: scanners_0001
Create Date: 2026-12-07 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.database

# revision identifiers, used by Alembic.
revision: str = "scanners_0002"
down_revision: str | Sequence[str] | None = "scanners_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("scanners_targets") as batch:
        batch.add_column(sa.Column("schedule", sa.String(length=100), nullable=True))
        batch.add_column(
            sa.Column("engine", sa.String(length=20), nullable=False, server_default="builtin")
        )
        batch.add_column(
            sa.Column("last_scheduled_at", core.database.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("auth_client", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scanners_targets") as batch:
        batch.drop_column("auth_client")
        batch.drop_column("last_scheduled_at")
        batch.drop_column("engine")
        batch.drop_column("schedule")
