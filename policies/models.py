"""Policy versions and the policy lines they hold: each line lives from the version that added it
until the version that removed it, so any version is a query away and rollback is a diff."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.database import Base, UTCDateTime

LINE_ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")


class PolicyVersion(Base):
    """One change of the policy set: monotonic number, who, why, and what it did."""

    __tablename__ = "policy_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    actor: Mapped[str] = mapped_column(String(255), nullable=False)
    reason: Mapped[str] = mapped_column(String(1000), nullable=False)
    source: Mapped[str] = mapped_column(String(20), nullable=False)  # bootstrap|apply|rollback
    rollback_of: Mapped[int | None] = mapped_column(Integer, nullable=True)
    lines_added: Mapped[int] = mapped_column(Integer, nullable=False)
    lines_removed: Mapped[int] = mapped_column(Integer, nullable=False)
    line_count: Mapped[int] = mapped_column(Integer, nullable=False)
    digest: Mapped[str] = mapped_column(String(64), nullable=False)  # SHA-256 of the set


class PolicyLine(Base):
    """A canonical ``p``/``g``/``zone`` line, live in versions [added_in, removed_in)."""

    __tablename__ = "policy_lines"
    __table_args__ = (
        Index("ix_policy_lines_removed_in", "removed_in"),
        Index("ix_policy_lines_added_in", "added_in"),
    )

    id: Mapped[int] = mapped_column(LINE_ID_TYPE, primary_key=True, autoincrement=True)
    line: Mapped[str] = mapped_column(Text, nullable=False)
    added_in: Mapped[int] = mapped_column(
        Integer, ForeignKey("policy_versions.version"), nullable=False
    )
    removed_in: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("policy_versions.version"), nullable=True
    )
