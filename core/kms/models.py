"""The data-key registry: every data-encryption key, wrapped under the key-encryption key."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Index, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.database import Base, UTCDateTime
from core.ids import uuid7


class DataKey(Base):
    """One data-encryption key. ``wrapped`` is emptied (NULL) when the key is crypto-shredded."""

    __tablename__ = "data_keys"
    __table_args__ = (Index("ix_data_keys_kek_version", "kek_version"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    purpose: Mapped[str] = mapped_column(String(100), nullable=False)
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    kek_version: Mapped[int] = mapped_column(Integer, nullable=False)
    provider: Mapped[str] = mapped_column(String(20), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    def __repr__(self) -> str:
        return f"DataKey(id={self.id}, purpose={self.purpose!r}, kek_version={self.kek_version})"
