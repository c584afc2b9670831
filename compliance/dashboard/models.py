"""Auditor engagements: which auditor account may see which frameworks, over which audit
period, until when (compliance.dashboard.access enforces them on every dashboard page)."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import orjson
from sqlalchemy import Date, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.database import Base, UTCDateTime
from core.ids import uuid7


class AuditorEngagement(Base):
    __tablename__ = "dashboard_engagements"
    __table_args__ = (Index("ix_dashboard_engagements_auditor", "auditor", "expires_at"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    auditor: Mapped[str] = mapped_column(String(255), nullable=False)
    """The auditor's account (its user id, the login session's subject)."""
    frameworks: Mapped[str] = mapped_column(Text, nullable=False)
    """JSON array of framework ids."""
    period_from: Mapped[date] = mapped_column(Date, nullable=False)
    period_to: Mapped[date] = mapped_column(Date, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    created_by: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @property
    def framework_ids(self) -> list[str]:
        return [str(item) for item in orjson.loads(self.frameworks)]
