"""Scanners: registered targets, scans and deduplicated findings.

Revision ID: scanners_0001
Revises:
Create Date: 2026-12-07 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.database

# revision identifiers, used by Alembic.
revision: str = "scanners_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("scanners",)
depends_on: str | Sequence[str] | None = None

UTC = core.database.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "scanners_targets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("include", sa.Text(), nullable=False),
        sa.Column("exclude", sa.Text(), nullable=False),
        sa.Column("header_names", sa.Text(), nullable=False),
        sa.Column("headers_key_id", sa.Uuid(), nullable=True),
        sa.Column("headers_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scanners_targets")),
        sa.UniqueConstraint("name", name=op.f("uq_scanners_targets_name")),
    )
    op.create_table(
        "scanners_scans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("engine", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("job_run_id", sa.Uuid(), nullable=True),
        sa.Column("triggered_by", sa.String(length=255), nullable=False),
        sa.Column("pages_done", sa.Integer(), nullable=False),
        sa.Column("pages_total", sa.Integer(), nullable=False),
        sa.Column("findings", sa.Integer(), nullable=False),
        sa.Column("observed", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("started_at", UTC(timezone=True), nullable=True),
        sa.Column("finished_at", UTC(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["scanners_targets.id"],
            name=op.f("fk_scanners_scans_target_id_scanners_targets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scanners_scans")),
    )
    op.create_index(
        "ix_scanners_scans_target_engine",
        "scanners_scans",
        ["target_id", "engine", "status"],
        unique=False,
    )
    op.create_table(
        "scanners_findings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("engine", sa.String(length=20), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("cwe", sa.Integer(), nullable=True),
        sa.Column("zap_plugin_id", sa.Integer(), nullable=True),
        sa.Column("risk", sa.String(length=20), nullable=False),
        sa.Column("confidence", sa.String(length=20), nullable=False),
        sa.Column("url_template", sa.String(length=2000), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("parameter", sa.String(length=300), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("first_seen_at", UTC(timezone=True), nullable=False),
        sa.Column("last_seen_at", UTC(timezone=True), nullable=False),
        sa.Column("last_scan_id", sa.Uuid(), nullable=True),
        sa.Column("sla_due_at", UTC(timezone=True), nullable=False),
        sa.Column("fixed_at", UTC(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("approver", sa.String(length=255), nullable=True),
        sa.Column("accepted_until", UTC(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["scanners_targets.id"],
            name=op.f("fk_scanners_findings_target_id_scanners_targets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scanners_findings")),
        sa.UniqueConstraint("target_id", "fingerprint", name="uq_scanners_findings_fingerprint"),
    )
    op.create_index(
        "ix_scanners_findings_status",
        "scanners_findings",
        ["target_id", "status"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_scanners_findings_status", table_name="scanners_findings")
    op.drop_table("scanners_findings")
    op.drop_index("ix_scanners_scans_target_engine", table_name="scanners_scans")
    op.drop_table("scanners_scans")
    op.drop_table("scanners_targets")
