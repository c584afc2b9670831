"""OAuth 2: clients can be disabled; revocation of every access token a client or user holds.

Revision ID: oauth2_0002
Revises: oauth2_0001
Create Date: 2025-01-03 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.database

# revision identifiers, used by Alembic.
revision: str = "oauth2_0002"
down_revision: str | Sequence[str] | None = "oauth2_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("oauth2_clients") as batch:
        batch.add_column(
            sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.create_table(
        "oauth2_revoked_holders",
        sa.Column("holder", sa.String(length=150), nullable=False),
        sa.Column("revoked_before", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("holder", name=op.f("pk_oauth2_revoked_holders")),
    )
    op.create_index(
        "ix_oauth2_revoked_holders_expires_at",
        "oauth2_revoked_holders",
        ["expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_oauth2_revoked_holders_expires_at", table_name="oauth2_revoked_holders")
    op.drop_table("oauth2_revoked_holders")
    with op.batch_alter_table("oauth2_clients") as batch:
        batch.drop_column("enabled")
