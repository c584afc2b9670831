"""Consent: purposes and append-only decisions.

Revision ID: consent_0001
Revises:
Create Date: 2026-12-07 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.database

# revision identifiers, used by Alembic.
revision: str = "consent_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("consent",)
depends_on: str | Sequence[str] | None = None

UTC = core.database.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "consent_purposes",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("categories", sa.Text(), nullable=False),
        sa.Column("notice", sa.Text(), nullable=False),
        sa.Column("notice_version", sa.String(length=50), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_consent_purposes")),
    )
    op.create_table(
        "consent_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(length=320), nullable=False),
        sa.Column("purpose", sa.String(length=255), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("decided_at", UTC(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("notice_version", sa.String(length=50), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    op.create_index(
        "ix_consent_records_subject_purpose",
        "consent_records",
        ["subject", "purpose", "decided_at"],
    )
    op.create_index("ix_consent_records_purpose", "consent_records", ["purpose", "decided_at"])


def downgrade() -> None:
    op.drop_index("ix_consent_records_purpose", table_name="consent_records")
    op.drop_index("ix_consent_records_subject_purpose", table_name="consent_records")
    op.drop_table("consent_records")
    op.drop_table("consent_purposes")
