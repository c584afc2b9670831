"""Tables of the privacy portal: e-mailed sign-in codes and portal sessions.

Both hold only keyed hashes (HMAC under an IdP-derived key) of what the browser or the mail
carries; the e-mail address of a verified session is kept for the session's short life (the
requests it files name it, notices go to it)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.database import Base, UTCDateTime
from core.ids import uuid7


class PortalCode(Base):
    """A single-use sign-in code sent to an address (hash only; the newest one counts)."""

    __tablename__ = "gdpr_portal_codes"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    address_hash: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PortalSession(Base):
    """A verified e-mail's short-lived portal session (cookie token stored as an HMAC)."""

    __tablename__ = "gdpr_portal_sessions"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    subject: Mapped[str] = mapped_column(String(320), nullable=False)
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
