"""Compliance: access reviews (PCI DSS 7.2.4) and their items.

Revision ID: compliance_0002
Revises: compliance_0001
Create Date: 2026-12-07 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.database

# revision identifiers, used by Alembic.
revision: str = "compliance_0002"
down_revision: str | Sequence[str] | None = "compliance_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = core.database.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "compliance_reviews",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("control_id", sa.String(length=200), nullable=False),
        sa.Column("scope_object", sa.String(length=500), nullable=True),
        sa.Column("scope_action", sa.String(length=100), nullable=True),
        sa.Column("reviewer", sa.String(length=255), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("opened_by", sa.String(length=255), nullable=False),
        sa.Column("opened_at", UTC(timezone=True), nullable=False),
        sa.Column("signed_off_by", sa.String(length=255), nullable=True),
        sa.Column("signed_off_at", UTC(timezone=True), nullable=True),
        sa.Column("evidence_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_reviews")),
    )
    op.create_index(
        "ix_compliance_reviews_signed_off_at",
        "compliance_reviews",
        ["signed_off_at"],
    )
    op.create_table(
        "compliance_review_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("review_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("subject_label", sa.String(length=320), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("object", sa.String(length=500), nullable=False),
        sa.Column("action", sa.String(length=500), nullable=False),
        sa.Column("condition", sa.String(length=500), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("granted_by", sa.String(length=500), nullable=False),
        sa.Column("denied_when", sa.Text(), nullable=False),
        sa.Column("revoke_lines", sa.Text(), nullable=False),
        sa.Column("revoke_account_roles", sa.Text(), nullable=False),
        sa.Column("reviewer", sa.String(length=255), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=255), nullable=True),
        sa.Column("decided_at", UTC(timezone=True), nullable=True),
        sa.Column("revoked_in_version", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["compliance_reviews.id"],
            name=op.f("fk_compliance_review_items_review_id_compliance_reviews"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_review_items")),
    )
    op.create_index(
        op.f("ix_compliance_review_items_review_id"),
        "compliance_review_items",
        ["review_id"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_compliance_review_items_review_id"),
        table_name="compliance_review_items",
    )
    op.drop_table("compliance_review_items")
    op.drop_index("ix_compliance_reviews_signed_off_at", table_name="compliance_reviews")
    op.drop_table("compliance_reviews")
