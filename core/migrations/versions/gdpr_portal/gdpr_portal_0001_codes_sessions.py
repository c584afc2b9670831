"""GDPR privacy portal: e-mailed sign-in codes and portal sessions.

Revision ID: gdpr_portal_0001
Revises:
Create Date: 2026-12-07 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.database

# revision identifiers, used by Alembic.
revision: str = "gdpr_portal_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("gdpr_portal",)
depends_on: str | Sequence[str] | None = None

UTC = core.database.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "gdpr_portal_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("expires_at", UTC(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", UTC(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gdpr_portal_codes")),
    )
    op.create_index(
        op.f("ix_gdpr_portal_codes_address_hash"), "gdpr_portal_codes", ["address_hash"]
    )
    op.create_table(
        "gdpr_portal_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=320), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("expires_at", UTC(timezone=True), nullable=False),
        sa.Column("ended_at", UTC(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gdpr_portal_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_gdpr_portal_sessions_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("gdpr_portal_sessions")
    op.drop_index(op.f("ix_gdpr_portal_codes_address_hash"), table_name="gdpr_portal_codes")
    op.drop_table("gdpr_portal_codes")
