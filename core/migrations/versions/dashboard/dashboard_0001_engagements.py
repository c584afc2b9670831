"""Dashboard: auditor engagements (frameworks, audit period, expiry).

Revision ID: dashboard_0001
Revises:
Create Date: 2026-12-07 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.database

# revision identifiers, used by Alembic.
revision: str = "dashboard_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("dashboard",)
depends_on: str | Sequence[str] | None = None

UTC = core.database.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "dashboard_engagements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("auditor", sa.String(length=255), nullable=False),
        sa.Column("frameworks", sa.Text(), nullable=False),
        sa.Column("period_from", sa.Date(), nullable=False),
        sa.Column("period_to", sa.Date(), nullable=False),
        sa.Column("expires_at", UTC(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("revoked_at", UTC(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_engagements")),
    )
    op.create_index(
        "ix_dashboard_engagements_auditor",
        "dashboard_engagements",
        ["auditor", "expires_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_dashboard_engagements_auditor", table_name="dashboard_engagements")
    op.drop_table("dashboard_engagements")
