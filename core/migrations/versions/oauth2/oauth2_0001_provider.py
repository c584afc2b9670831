"""OAuth 2 / OIDC provider: clients, secret peppers, authorization codes, refresh-token families
and generations, revoked access-token ids, used client assertions; token-signing keys.

Revision ID: oauth2_0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.database

# revision identifiers, used by Alembic.
revision: str = "oauth2_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("oauth2",)
depends_on: str | Sequence[str] | None = ("iam_0001", "kms_0001")


def upgrade() -> None:
    op.create_table(
        "oauth2_clients",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("client_type", sa.String(length=20), nullable=False),
        sa.Column("token_endpoint_auth_method", sa.String(length=30), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(), nullable=True),
        sa.Column("secret_pepper_id", sa.Uuid(), nullable=True),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("post_logout_redirect_uris", sa.JSON(), nullable=False),
        sa.Column("grant_types", sa.JSON(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("audiences", sa.JSON(), nullable=False),
        sa.Column("first_party", sa.Boolean(), nullable=False),
        sa.Column("jwks", sa.JSON(), nullable=True),
        sa.Column("created_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("secret_rotated_at", core.database.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth2_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_oauth2_clients_client_id")),
        sa.UniqueConstraint("name", name=op.f("uq_oauth2_clients_name")),
    )
    op.create_table(
        "oauth2_revoked_access_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("expires_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_oauth2_revoked_access_tokens")),
    )
    op.create_index(
        "ix_oauth2_revoked_access_tokens_expires_at",
        "oauth2_revoked_access_tokens",
        ["expires_at"],
        unique=False,
    )
    op.create_table(
        "oauth2_used_client_assertions",
        sa.Column("jti_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti_hash", name=op.f("pk_oauth2_used_client_assertions")),
    )
    op.create_index(
        "ix_oauth2_used_client_assertions_expires_at",
        "oauth2_used_client_assertions",
        ["expires_at"],
        unique=False,
    )
    op.create_table(
        "oauth2_authorization_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2000), nullable=False),
        sa.Column("scope", sa.String(length=2000), nullable=False),
        sa.Column("nonce", sa.String(length=500), nullable=True),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("code_challenge_method", sa.String(length=10), nullable=False),
        sa.Column("auth_time", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("acr", sa.String(length=100), nullable=True),
        sa.Column("sid", sa.String(length=100), nullable=True),
        sa.Column("created_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("issued_access_jti", sa.String(length=64), nullable=True),
        sa.Column(
            "issued_access_expires_at", core.database.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("issued_family_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["iam_users.id"],
            name=op.f("fk_oauth2_authorization_codes_user_id_iam_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth2_authorization_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_oauth2_authorization_codes_code_hash")),
    )
    op.create_index(
        "ix_oauth2_authorization_codes_expires_at",
        "oauth2_authorization_codes",
        ["expires_at"],
        unique=False,
    )
    op.create_table(
        "oauth2_client_secret_peppers",
        sa.Column("data_key_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["data_key_id"],
            ["data_keys.id"],
            name=op.f("fk_oauth2_client_secret_peppers_data_key_id_data_keys"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("data_key_id", name=op.f("pk_oauth2_client_secret_peppers")),
    )
    op.create_table(
        "oauth2_refresh_families",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.String(length=2000), nullable=False),
        sa.Column("auth_time", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("acr", sa.String(length=100), nullable=True),
        sa.Column("sid", sa.String(length=100), nullable=True),
        sa.Column("current_generation", sa.Integer(), nullable=False),
        sa.Column("created_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=50), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["iam_users.id"],
            name=op.f("fk_oauth2_refresh_families_user_id_iam_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth2_refresh_families")),
    )
    op.create_index(
        "ix_oauth2_refresh_families_client_id",
        "oauth2_refresh_families",
        ["client_id"],
        unique=False,
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("alg", sa.String(length=10), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("sealed_private_key", sa.LargeBinary(), nullable=False),
        sa.Column("data_key_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("not_after", core.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["data_key_id"],
            ["data_keys.id"],
            name=op.f("fk_signing_keys_data_key_id_data_keys"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
    )
    op.create_index("ix_signing_keys_status", "signing_keys", ["status"], unique=False)
    op.create_table(
        "oauth2_refresh_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("access_jti", sa.String(length=64), nullable=False),
        sa.Column("access_expires_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["family_id"],
            ["oauth2_refresh_families.id"],
            name=op.f("fk_oauth2_refresh_tokens_family_id_oauth2_refresh_families"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth2_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_oauth2_refresh_tokens_token_hash")),
    )
    op.create_index(
        "ix_oauth2_refresh_tokens_family_id_generation",
        "oauth2_refresh_tokens",
        ["family_id", "generation"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_table("oauth2_refresh_tokens")
    op.drop_table("signing_keys")
    op.drop_table("oauth2_refresh_families")
    op.drop_table("oauth2_client_secret_peppers")
    op.drop_table("oauth2_authorization_codes")
    op.drop_table("oauth2_used_client_assertions")
    op.drop_table("oauth2_revoked_access_tokens")
    op.drop_table("oauth2_clients")
