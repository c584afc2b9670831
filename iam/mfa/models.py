"""Tables of second factors: TOTP secrets (encrypted), recovery codes (keyed hashes), WebAuthn
credentials (public keys only)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import JSON, BigInteger, ForeignKey, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.database import Base, UTCDateTime
from core.ids import uuid7


class TotpCredential(Base):
    """A confirmed TOTP secret; only written once the user proved a code from it."""

    __tablename__ = "iam_totp_credentials"

    user_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("iam_users.id", ondelete="CASCADE"), primary_key=True
    )
    # AES-256-GCM under the IdP's secret-encryption key, bound to the user id.
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    # The last accepted time step: a code of that step (or earlier) is never accepted again.
    last_used_step: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class RecoveryCode(Base):
    """One single-use recovery code, stored as an HMAC-SHA256 of the code."""

    __tablename__ = "iam_recovery_codes"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    user_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("iam_users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebAuthnCredential(Base):
    """A registered authenticator (security key or passkey): its id and public key."""

    __tablename__ = "iam_webauthn_credentials"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    user_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("iam_users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    credential_id: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    sign_count: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    transports: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    label: Mapped[str] = mapped_column(String(100), nullable=False, default="Security key")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
