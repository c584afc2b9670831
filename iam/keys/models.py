"""ORM model of the token-signing keys (private key sealed, public JWK in clear)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.database import Base, UTCDateTime

STATUS_ACTIVE = "active"
STATUS_RETIRING = "retiring"
STATUS_RETIRED = "retired"


class SigningKey(Base):
    """One signing key pair. ``sealed_private_key`` is the PKCS#8 PEM encrypted (AES-256-GCM)
    under the KMS data key ``data_key_id``; ``not_after`` is when a retiring key leaves the JWKS."""

    __tablename__ = "signing_keys"
    __table_args__ = (Index("ix_signing_keys_status", "status"),)

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(10), nullable=False)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    sealed_private_key: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    data_key_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("data_keys.id", ondelete="RESTRICT"), nullable=False
    )
    status: Mapped[str] = mapped_column(String(10), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    not_after: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r}, alg={self.alg}, status={self.status})"
