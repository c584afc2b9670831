"""GDPR data-subject requests: requests, events, connector outcomes, packages, links, certificates.

Revision ID: gdpr_0001
Revises:
Create Date: 2026-12-07 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.database

# revision identifiers, used by Alembic.
revision: str = "gdpr_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("gdpr",)
depends_on: str | Sequence[str] | None = None

UTC = core.database.UTCDateTime


def _fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["request_id"],
        ["gdpr_requests.id"],
        name=op.f(f"fk_{table}_request_id_gdpr_requests"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "gdpr_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=320), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=30), nullable=False),
        sa.Column("changes", sa.Text(), nullable=True),
        sa.Column("purposes", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("received_at", UTC(timezone=True), nullable=False),
        sa.Column("due_at", UTC(timezone=True), nullable=False),
        sa.Column("extended_due_at", UTC(timezone=True), nullable=True),
        sa.Column("extension_reason", sa.Text(), nullable=True),
        sa.Column("extension_notified_at", UTC(timezone=True), nullable=True),
        sa.Column("paused_at", UTC(timezone=True), nullable=True),
        sa.Column("paused_days", sa.Integer(), nullable=False),
        sa.Column("completed_at", UTC(timezone=True), nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("package_sha256", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gdpr_requests")),
    )
    op.create_index(op.f("ix_gdpr_requests_subject"), "gdpr_requests", ["subject"])
    op.create_index(op.f("ix_gdpr_requests_state"), "gdpr_requests", ["state"])
    op.create_table(
        "gdpr_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("at", UTC(timezone=True), nullable=False),
        sa.Column("from_state", sa.String(length=30), nullable=True),
        sa.Column("to_state", sa.String(length=30), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        _fk("gdpr_events"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gdpr_events")),
    )
    op.create_index(op.f("ix_gdpr_events_request_id"), "gdpr_events", ["request_id"])
    op.create_table(
        "gdpr_outcomes",
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("connector", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=100), nullable=False),
        sa.Column("holds", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.Column("datasets_key_id", sa.Uuid(), nullable=True),
        sa.Column("datasets_sealed", sa.LargeBinary(), nullable=True),
        _fk("gdpr_outcomes"),
        sa.PrimaryKeyConstraint("request_id", "connector", name=op.f("pk_gdpr_outcomes")),
    )
    op.create_table(
        "gdpr_packages",
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("key_id", sa.Uuid(), nullable=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        _fk("gdpr_packages"),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_gdpr_packages")),
    )
    op.create_table(
        "gdpr_download_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UTC(timezone=True), nullable=False),
        sa.Column("used_at", UTC(timezone=True), nullable=True),
        _fk("gdpr_download_links"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gdpr_download_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_gdpr_download_links_token_hash")),
    )
    op.create_index(
        op.f("ix_gdpr_download_links_request_id"), "gdpr_download_links", ["request_id"]
    )
    op.create_table(
        "gdpr_certificates",
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("certificate_json", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("public_key_pem", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        _fk("gdpr_certificates"),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_gdpr_certificates")),
    )


def downgrade() -> None:
    for table in (
        "gdpr_certificates",
        "gdpr_download_links",
        "gdpr_packages",
        "gdpr_outcomes",
        "gdpr_events",
        "gdpr_requests",
    ):
        op.drop_table(table)
