"""Compliance: check runs, signed evidence and artefacts, waivers, manual evidence, control
states and the drift-alert delivery log.

Revision ID: compliance_0001
Revises:
Create Date: 2026-12-07 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.database

# revision identifiers, used by Alembic.
revision: str = "compliance_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("compliance",)
depends_on: str | Sequence[str] | None = None

UTC = core.database.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "compliance_check_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("triggered_by", sa.String(length=255), nullable=False),
        sa.Column("started_at", UTC(timezone=True), nullable=False),
        sa.Column("finished_at", UTC(timezone=True), nullable=True),
        sa.Column("results", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_check_runs")),
    )
    op.create_table(
        "compliance_evidence",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.Column("check_id", sa.String(length=200), nullable=False),
        sa.Column("check_version", sa.String(length=64), nullable=False),
        sa.Column("control_ids", sa.Text(), nullable=False),
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column("collector", sa.String(length=255), nullable=False),
        sa.Column("started_at", UTC(timezone=True), nullable=False),
        sa.Column("finished_at", UTC(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("observed", sa.Text(), nullable=False),
        sa.Column("expected", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("artefacts", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("key_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["compliance_check_runs.id"],
            name=op.f("fk_compliance_evidence_run_id_compliance_check_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_evidence")),
    )
    op.create_index(
        "ix_compliance_evidence_check_id", "compliance_evidence", ["check_id", "finished_at"]
    )
    op.create_index("ix_compliance_evidence_finished_at", "compliance_evidence", ["finished_at"])
    op.create_index(op.f("ix_compliance_evidence_run_id"), "compliance_evidence", ["run_id"])
    op.create_table(
        "compliance_artefacts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("evidence_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["compliance_evidence.id"],
            name=op.f("fk_compliance_artefacts_evidence_id_compliance_evidence"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_artefacts")),
    )
    op.create_index(
        op.f("ix_compliance_artefacts_evidence_id"), "compliance_artefacts", ["evidence_id"]
    )
    op.create_table(
        "compliance_waivers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("control_id", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("approver", sa.String(length=255), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("expires_at", UTC(timezone=True), nullable=False),
        sa.Column("revoked_at", UTC(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_waivers")),
    )
    op.create_index(
        "ix_compliance_waivers_control_id", "compliance_waivers", ["control_id", "expires_at"]
    )
    op.create_table(
        "compliance_manual_evidence",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("control_id", sa.String(length=200), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("uploaded_by", sa.String(length=255), nullable=False),
        sa.Column("uploaded_at", UTC(timezone=True), nullable=False),
        sa.Column("due_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_manual_evidence")),
    )
    op.create_index(
        "ix_compliance_manual_evidence_control_id", "compliance_manual_evidence", ["control_id"]
    )
    op.create_table(
        "compliance_control_states",
        sa.Column("control_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("changed_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("control_id", name=op.f("pk_compliance_control_states")),
    )
    op.create_table(
        "compliance_alert_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("control_id", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("delivered_at", UTC(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_alert_deliveries")),
    )
    op.create_index(
        op.f("ix_compliance_alert_deliveries_control_id"),
        "compliance_alert_deliveries",
        ["control_id"],
    )


def downgrade() -> None:
    op.drop_table("compliance_alert_deliveries")
    op.drop_table("compliance_control_states")
    op.drop_table("compliance_manual_evidence")
    op.drop_table("compliance_waivers")
    op.drop_table("compliance_artefacts")
    op.drop_table("compliance_evidence")
    op.drop_table("compliance_check_runs")
