"""GDPR configured connectors (webhooks, manual tasks) and the manual tasks they open.

Revision ID: gdpr_connectors_0001
Revises:
Create Date: 2026-12-07 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.database

# revision identifiers, used by Alembic.
revision: str = "gdpr_connectors_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("gdpr_connectors",)
depends_on: str | Sequence[str] | None = ("gdpr_0001",)

UTC = core.database.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "gdpr_connectors",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("types", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("timeout_seconds", sa.Float(), nullable=False),
        sa.Column("secret_key_id", sa.Uuid(), nullable=True),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("instructions", sa.Text(), nullable=True),
        sa.Column("assignee_email", sa.String(length=320), nullable=True),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gdpr_connectors")),
        sa.UniqueConstraint("name", name=op.f("uq_gdpr_connectors_name")),
    )
    op.create_table(
        "gdpr_tasks",
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("connector", sa.String(length=63), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("rows_affected", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("opened_at", UTC(timezone=True), nullable=False),
        sa.Column("closed_at", UTC(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["gdpr_requests.id"],
            name=op.f("fk_gdpr_tasks_request_id_gdpr_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_id", "connector", name=op.f("pk_gdpr_tasks")),
    )


def downgrade() -> None:
    op.drop_table("gdpr_tasks")
    op.drop_table("gdpr_connectors")
