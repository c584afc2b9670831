"""Key management: the data-key registry (wrapped data-encryption keys).

Revision ID: kms_0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.database

# revision identifiers, used by Alembic.
revision: str = "kms_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("kms",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "data_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=100), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("kek_version", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("created_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("destroyed_at", core.database.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_keys")),
    )
    op.create_index("ix_data_keys_kek_version", "data_keys", ["kek_version"])


def downgrade() -> None:
    op.drop_index("ix_data_keys_kek_version", table_name="data_keys")
    op.drop_table("data_keys")
