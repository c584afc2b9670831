"""Accounts, roles, password history, login throttles, MFA credentials, login sessions and the
IdP's secret keys.

Revision ID: iam_0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.database

# revision identifiers, used by Alembic.
revision: str = "iam_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("iam",)
# iam_secret_keys points at data_keys.
depends_on: str | Sequence[str] | None = ("kms_0001",)


def upgrade() -> None:
    op.create_table(
        "iam_login_throttles",
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", core.database.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_iam_login_throttles")),
    )
    op.create_table(
        "iam_roles",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("requires_mfa", sa.Boolean(), nullable=False),
        sa.Column("created_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_iam_roles")),
    )
    op.create_table(
        "iam_users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_verified", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("password_changed_at", core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sa.String(length=100), nullable=True),
        sa.Column("created_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'disabled')", name=op.f("ck_iam_users_status_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_iam_users")),
        sa.UniqueConstraint("email", name=op.f("uq_iam_users_email")),
    )
    op.create_table(
        "iam_login_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("auth_time", core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("webauthn_challenge", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", core.database.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('mfa_required', 'enrolment_required', 'authenticated')",
            name=op.f("ck_iam_login_sessions_state_known"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["iam_users.id"],
            name=op.f("fk_iam_login_sessions_user_id_iam_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_iam_login_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_iam_login_sessions_token_hash")),
    )
    op.create_index(op.f("ix_iam_login_sessions_expires_at"), "iam_login_sessions", ["expires_at"])
    op.create_index(op.f("ix_iam_login_sessions_user_id"), "iam_login_sessions", ["user_id"])
    op.create_table(
        "iam_password_history",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["iam_users.id"],
            name=op.f("fk_iam_password_history_user_id_iam_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_iam_password_history")),
    )
    op.create_index(op.f("ix_iam_password_history_user_id"), "iam_password_history", ["user_id"])
    op.create_table(
        "iam_recovery_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", core.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["iam_users.id"],
            name=op.f("fk_iam_recovery_codes_user_id_iam_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_iam_recovery_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_iam_recovery_codes_code_hash")),
    )
    op.create_index(op.f("ix_iam_recovery_codes_user_id"), "iam_recovery_codes", ["user_id"])
    op.create_table(
        "iam_secret_keys",
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("data_key_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["data_key_id"],
            ["data_keys.id"],
            name=op.f("fk_iam_secret_keys_data_key_id_data_keys"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("purpose", name=op.f("pk_iam_secret_keys")),
    )
    op.create_table(
        "iam_totp_credentials",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("last_used_step", sa.BigInteger(), nullable=False),
        sa.Column("confirmed_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["iam_users.id"],
            name=op.f("fk_iam_totp_credentials_user_id_iam_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_iam_totp_credentials")),
    )
    op.create_table(
        "iam_user_roles",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role_name", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["role_name"],
            ["iam_roles.name"],
            name=op.f("fk_iam_user_roles_role_name_iam_roles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["iam_users.id"],
            name=op.f("fk_iam_user_roles_user_id_iam_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "role_name", name=op.f("pk_iam_user_roles")),
    )
    op.create_table(
        "iam_webauthn_credentials",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("transports", sa.JSON(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("created_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", core.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["iam_users.id"],
            name=op.f("fk_iam_webauthn_credentials_user_id_iam_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_iam_webauthn_credentials")),
        sa.UniqueConstraint(
            "credential_id", name=op.f("uq_iam_webauthn_credentials_credential_id")
        ),
    )
    op.create_index(
        op.f("ix_iam_webauthn_credentials_user_id"), "iam_webauthn_credentials", ["user_id"]
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_iam_webauthn_credentials_user_id"), table_name="iam_webauthn_credentials"
    )
    op.drop_table("iam_webauthn_credentials")
    op.drop_table("iam_user_roles")
    op.drop_table("iam_totp_credentials")
    op.drop_table("iam_secret_keys")
    op.drop_index(op.f("ix_iam_recovery_codes_user_id"), table_name="iam_recovery_codes")
    op.drop_table("iam_recovery_codes")
    op.drop_index(op.f("ix_iam_password_history_user_id"), table_name="iam_password_history")
    op.drop_table("iam_password_history")
    op.drop_index(op.f("ix_iam_login_sessions_user_id"), table_name="iam_login_sessions")
    op.drop_index(op.f("ix_iam_login_sessions_expires_at"), table_name="iam_login_sessions")
    op.drop_table("iam_login_sessions")
    op.drop_table("iam_users")
    op.drop_table("iam_roles")
    op.drop_table("iam_login_throttles")
