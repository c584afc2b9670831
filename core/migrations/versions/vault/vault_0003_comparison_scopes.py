"""Vault: comparison scopes of fingerprints and deterministic tokens, and per-caller budgets of
comparable answers (no oracles: docs/vault.md).

Revision ID: vault_0003
Revises: vault_0002
Create Date: 2026-12-07 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.database

# revision identifiers, used by Alembic.
revision: str = "vault_0003"
down_revision: str | Sequence[str] | None = "vault_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("vault_tokens") as batch:
        batch.add_column(sa.Column("fingerprint_scope", sa.String(length=250), nullable=True))
    op.create_table(
        "vault_candidate_budgets",
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("caller", sa.String(length=250), nullable=False),
        sa.Column("window_started_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "caller", name=op.f("pk_vault_candidate_budgets")),
    )


def downgrade() -> None:
    op.drop_table("vault_candidate_budgets")
    with op.batch_alter_table("vault_tokens") as batch:
        batch.drop_column("fingerprint_scope")
