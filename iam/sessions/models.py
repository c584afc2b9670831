"""Tables of login sessions and of the IdP's secret keys (KMS data keys by purpose)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import JSON, CheckConstraint, ForeignKey, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

import core.kms.models  # noqa: F401 - iam_secret_keys references data_keys
from core.clock import utcnow
from core.database import Base, UTCDateTime
from core.ids import uuid7

SESSION_STATES = ("mfa_required", "enrolment_required", "authenticated")


class LoginSession(Base):
    """A browser session after a correct password. The cookie holds a random 256-bit token; the
    row holds only its HMAC, so a leaked table cannot be replayed as cookies."""

    __tablename__ = "iam_login_sessions"
    __table_args__ = (
        CheckConstraint(
            "state IN ('mfa_required', 'enrolment_required', 'authenticated')",
            name="state_known",
        ),
    )

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    user_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("iam_users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    state: Mapped[str] = mapped_column(String(24), nullable=False)
    amr: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    auth_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Pending WebAuthn challenge (registration or authentication), single use.
    webauthn_challenge: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IamSecretKey(Base):
    """Which KMS data key serves which IdP purpose (HMAC of session tokens, TOTP encryption...)."""

    __tablename__ = "iam_secret_keys"

    purpose: Mapped[str] = mapped_column(String(64), primary_key=True)
    data_key_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("data_keys.id", ondelete="RESTRICT"), nullable=False
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
