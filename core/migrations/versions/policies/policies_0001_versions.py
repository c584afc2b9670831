"""Policies: versions and the lines they hold.

Revision ID: policies_0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.database

# revision identifiers, used by Alembic.
revision: str = "policies_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("policies",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "policy_versions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("created_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("rollback_of", sa.Integer(), nullable=True),
        sa.Column("lines_added", sa.Integer(), nullable=False),
        sa.Column("lines_removed", sa.Integer(), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_policy_versions")),
    )
    op.create_table(
        "policy_lines",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("added_in", sa.Integer(), nullable=False),
        sa.Column("removed_in", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["added_in"],
            ["policy_versions.version"],
            name=op.f("fk_policy_lines_added_in_policy_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["removed_in"],
            ["policy_versions.version"],
            name=op.f("fk_policy_lines_removed_in_policy_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_lines")),
    )
    op.create_index("ix_policy_lines_added_in", "policy_lines", ["added_in"])
    op.create_index("ix_policy_lines_removed_in", "policy_lines", ["removed_in"])


def downgrade() -> None:
    op.drop_index("ix_policy_lines_removed_in", table_name="policy_lines")
    op.drop_index("ix_policy_lines_added_in", table_name="policy_lines")
    op.drop_table("policy_lines")
    op.drop_table("policy_versions")
