"""Tables of consent (GDPR Art. 7): purposes (fideslang data uses with the notice shown) and the
append-only decisions, one row per grant or withdrawal; the latest decision per subject and
purpose wins, and a purpose never decided is not granted (privacy by default, Art. 25(2))."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Boolean, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.database import Base, UTCDateTime
from core.ids import uuid7


class ConsentPurpose(Base):
    """A purpose consent is asked for; ``key`` is a fideslang data-use key. Changing the notice
    text bumps ``notice_version``."""

    __tablename__ = "consent_purposes"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    categories: Mapped[str] = mapped_column(Text, nullable=False, default="[]")  # JSON list
    notice: Mapped[str] = mapped_column(Text, nullable=False, default="")
    notice_version: Mapped[str] = mapped_column(String(50), nullable=False, default="1")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class ConsentRecord(Base):
    """One decision, never updated: ``granted`` True for a grant, False for a withdrawal."""

    __tablename__ = "consent_records"
    __table_args__ = (
        Index("ix_consent_records_subject_purpose", "subject", "purpose", "decided_at"),
        Index("ix_consent_records_purpose", "purpose", "decided_at"),
    )

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    subject: Mapped[str] = mapped_column(String(320), nullable=False)
    purpose: Mapped[str] = mapped_column(String(255), nullable=False)
    granted: Mapped[bool] = mapped_column(Boolean, nullable=False)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    source: Mapped[str] = mapped_column(String(255), nullable=False)
    notice_version: Mapped[str] = mapped_column(String(50), nullable=False)
    actor: Mapped[str] = mapped_column(String(255), nullable=False)
