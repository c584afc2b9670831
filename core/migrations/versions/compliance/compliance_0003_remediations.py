"""Compliance: remediations proposed for failing controls, pending approval or queued, and
their outcome with the before/after state.

Revision ID: compliance_0003
Revises: compliance_0002
Create Date: 2026-12-07 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.database

# revision identifiers, used by Alembic.
revision: str = "compliance_0003"
down_revision: str | Sequence[str] | None = "compliance_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = core.database.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "compliance_remediations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("control_ids", sa.Text(), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("open_key", sa.String(length=100), nullable=True),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("proposed_state", sa.Text(), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=255), nullable=True),
        sa.Column("decided_at", UTC(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.Column("job_run_id", sa.Uuid(), nullable=True),
        sa.Column("started_at", UTC(timezone=True), nullable=True),
        sa.Column("finished_at", UTC(timezone=True), nullable=True),
        sa.Column("before_state", sa.Text(), nullable=True),
        sa.Column("after_state", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_remediations")),
        sa.UniqueConstraint("open_key", name=op.f("uq_compliance_remediations_open_key")),
    )
    op.create_index(
        "ix_compliance_remediations_status", "compliance_remediations", ["status", "created_at"]
    )


def downgrade() -> None:
    op.drop_table("compliance_remediations")
