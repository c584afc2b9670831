"""GDPR outcomes keep the Art. 15(1) information each system gave with its answer; a completed
request names its completion's evidence record.

Revision ID: gdpr_0002
Revises: gdpr_0001
Create Date: 2026-12-07 16:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "gdpr_0002"
down_revision: str | Sequence[str] | None = "gdpr_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("gdpr_outcomes") as batch:
        batch.add_column(sa.Column("info", sa.Text(), nullable=True))
    with op.batch_alter_table("gdpr_requests") as batch:
        batch.add_column(sa.Column("evidence_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gdpr_requests") as batch:
        batch.drop_column("evidence_id")
    with op.batch_alter_table("gdpr_outcomes") as batch:
        batch.drop_column("info")
