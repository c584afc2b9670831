"""Vault: the token store and the vault's key assignments.

Revision ID: vault_0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.database

# revision identifiers, used by Alembic.
revision: str = "vault_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("vault",)
depends_on: str | Sequence[str] | None = ("kms_0001",)


def upgrade() -> None:
    op.create_table(
        "vault_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("token", sa.String(length=300), nullable=False),
        sa.Column("token_type", sa.String(length=20), nullable=False),
        sa.Column("token_format", sa.String(length=40), nullable=False),
        sa.Column("deterministic", sa.Boolean(), nullable=False),
        sa.Column("single_use", sa.Boolean(), nullable=False),
        sa.Column("data_key_id", sa.Uuid(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(length=32), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("created_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["data_key_id"],
            ["data_keys.id"],
            name=op.f("fk_vault_tokens_data_key_id_data_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_tokens")),
        sa.UniqueConstraint("tenant", "token", name="uq_vault_tokens_tenant_token"),
    )
    op.create_index(
        "ix_vault_tokens_fingerprint", "vault_tokens", ["tenant", "token_type", "fingerprint"]
    )
    op.create_index("ix_vault_tokens_subject", "vault_tokens", ["tenant", "subject"])
    op.create_index("ix_vault_tokens_expires_at", "vault_tokens", ["expires_at"])
    op.create_table(
        "vault_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("scope", sa.String(length=250), nullable=False),
        sa.Column("data_key_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["data_key_id"],
            ["data_keys.id"],
            name=op.f("fk_vault_keys_data_key_id_data_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_keys")),
        sa.UniqueConstraint("tenant", "scope", name="uq_vault_keys_tenant_scope"),
    )


def downgrade() -> None:
    op.drop_table("vault_keys")
    op.drop_index("ix_vault_tokens_expires_at", table_name="vault_tokens")
    op.drop_index("ix_vault_tokens_subject", table_name="vault_tokens")
    op.drop_index("ix_vault_tokens_fingerprint", table_name="vault_tokens")
    op.drop_table("vault_tokens")
