"""Vault: proxy routes (allow-listed destinations and the fields they tokenize or detokenize).

Revision ID: vault_0002
Revises: vault_0001
Create Date: 2025-01-02 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.database

# revision identifiers, used by Alembic.
revision: str = "vault_0002"
down_revision: str | Sequence[str] | None = "vault_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vault_proxy_routes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("destination", sa.String(length=2048), nullable=False),
        sa.Column("methods", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=True),
        sa.Column("secret_key_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["secret_key_id"],
            ["data_keys.id"],
            name=op.f("fk_vault_proxy_routes_secret_key_id_data_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_proxy_routes")),
        sa.UniqueConstraint("tenant", "name", name="uq_vault_proxy_routes_tenant_name"),
    )


def downgrade() -> None:
    op.drop_table("vault_proxy_routes")
