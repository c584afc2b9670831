"""OAuth 2 provider: RFC 8628 device authorizations (device code and user code as hashes).

Revision ID: oauth2_0003
Revises: oauth2_0002
Create Date: 2025-01-03 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.database

# revision identifiers, used by Alembic.
revision: str = "oauth2_0003"
down_revision: str | Sequence[str] | None = "oauth2_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oauth2_device_authorizations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("device_code_hash", sa.String(length=64), nullable=False),
        sa.Column("user_code_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("scope", sa.String(length=2000), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("last_polled_at", core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("auth_time", core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("acr", sa.String(length=100), nullable=True),
        sa.Column("sid", sa.String(length=100), nullable=True),
        sa.Column("created_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", core.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["iam_users.id"],
            name=op.f("fk_oauth2_device_authorizations_user_id_iam_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth2_device_authorizations")),
        sa.UniqueConstraint(
            "device_code_hash", name=op.f("uq_oauth2_device_authorizations_device_code_hash")
        ),
        sa.UniqueConstraint(
            "user_code_hash", name=op.f("uq_oauth2_device_authorizations_user_code_hash")
        ),
    )
    op.create_index(
        "ix_oauth2_device_authorizations_expires_at",
        "oauth2_device_authorizations",
        ["expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        "ix_oauth2_device_authorizations_expires_at", table_name="oauth2_device_authorizations"
    )
    op.drop_table("oauth2_device_authorizations")
