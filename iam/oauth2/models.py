"""ORM models of the OAuth 2 / OIDC provider: clients, authorization codes, refresh-token
families and their generations, revoked access-token ids, used client-assertion ids, and the
client-secret pepper. Every secret is stored as a hash, never in clear."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.database import Base, UTCDateTime
from core.ids import uuid7


class OAuth2Client(Base):
    """A registered client. ``secret_hash`` is HMAC-SHA256(pepper, secret) under the pepper
    ``secret_pepper_id`` (a KMS data key); public clients have neither."""

    __tablename__ = "oauth2_clients"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    client_id: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    client_type: Mapped[str] = mapped_column(String(20), nullable=False)
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(30), nullable=False)
    secret_hash: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    secret_pepper_id: Mapped[UUID | None] = mapped_column(Uuid, nullable=True)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    grant_types: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    scopes: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    audiences: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    first_party: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # A disabled client authenticates nowhere (it answers as an unknown one) and its tokens are
    # revoked (RevokedHolder); enabling it again lets it ask for new ones.
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    def __repr__(self) -> str:
        return f"OAuth2Client(client_id={self.client_id!r}, type={self.client_type})"


class ClientSecretPepper(Base):
    """Which KMS data key peppers client secrets; the newest one peppers new secrets."""

    __tablename__ = "oauth2_client_secret_peppers"

    data_key_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("data_keys.id", ondelete="RESTRICT"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class AuthorizationCode(Base):
    """One authorization code (SHA-256 of it), single use: ``used_at`` is set on redemption and
    what was issued from it is remembered so a replay can revoke it."""

    __tablename__ = "oauth2_authorization_codes"
    __table_args__ = (Index("ix_oauth2_authorization_codes_expires_at", "expires_at"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    client_id: Mapped[str] = mapped_column(String(100), nullable=False)
    user_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("iam_users.id", ondelete="CASCADE"), nullable=False
    )
    redirect_uri: Mapped[str] = mapped_column(String(2000), nullable=False)
    scope: Mapped[str] = mapped_column(String(2000), nullable=False, default="")
    nonce: Mapped[str | None] = mapped_column(String(500), nullable=True)
    code_challenge: Mapped[str] = mapped_column(String(128), nullable=False)
    code_challenge_method: Mapped[str] = mapped_column(String(10), nullable=False)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    amr: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    acr: Mapped[str | None] = mapped_column(String(100), nullable=True)
    sid: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    issued_access_jti: Mapped[str | None] = mapped_column(String(64), nullable=True)
    issued_access_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    issued_family_id: Mapped[UUID | None] = mapped_column(Uuid, nullable=True)


class RefreshFamily(Base):
    """All refresh tokens descending from one authorization; revoked as a whole on reuse."""

    __tablename__ = "oauth2_refresh_families"
    __table_args__ = (Index("ix_oauth2_refresh_families_client_id", "client_id"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    client_id: Mapped[str] = mapped_column(String(100), nullable=False)
    user_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("iam_users.id", ondelete="CASCADE"), nullable=False
    )
    scope: Mapped[str] = mapped_column(String(2000), nullable=False, default="")
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    amr: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    acr: Mapped[str | None] = mapped_column(String(100), nullable=True)
    sid: Mapped[str | None] = mapped_column(String(100), nullable=True)
    current_generation: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(50), nullable=True)


class RefreshToken(Base):
    """One generation of a family (SHA-256 of the token). Only the newest generation redeems;
    presenting an older one is reuse. Remembers the access token issued alongside it."""

    __tablename__ = "oauth2_refresh_tokens"
    __table_args__ = (
        Index(
            "ix_oauth2_refresh_tokens_family_id_generation", "family_id", "generation", unique=True
        ),
    )

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    family_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("oauth2_refresh_families.id", ondelete="CASCADE"), nullable=False
    )
    generation: Mapped[int] = mapped_column(Integer, nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    access_jti: Mapped[str] = mapped_column(String(64), nullable=False)
    access_expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class RevokedAccessToken(Base):
    """An access token (by ``jti``) revoked before its expiry; kept until ``expires_at``."""

    __tablename__ = "oauth2_revoked_access_tokens"
    __table_args__ = (Index("ix_oauth2_revoked_access_tokens_expires_at", "expires_at"),)

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(100), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    reason: Mapped[str] = mapped_column(String(50), nullable=False)


class RevokedHolder(Base):
    """Every access token a client or a user (``holder``: ``client:<client_id>`` or
    ``user:<id>``) was issued up to ``revoked_before`` is revoked: a deleted or disabled client,
    a disabled user. Access tokens are not stored, so this is how all of them are cut off at
    once; kept until the last of them has expired (``expires_at``)."""

    __tablename__ = "oauth2_revoked_holders"
    __table_args__ = (Index("ix_oauth2_revoked_holders_expires_at", "expires_at"),)

    holder: Mapped[str] = mapped_column(String(150), primary_key=True)
    revoked_before: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    reason: Mapped[str] = mapped_column(String(50), nullable=False)


class UsedClientAssertion(Base):
    """``jti`` of private_key_jwt assertions already accepted (replay refused) until expiry."""

    __tablename__ = "oauth2_used_client_assertions"
    __table_args__ = (Index("ix_oauth2_used_client_assertions_expires_at", "expires_at"),)

    jti_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class DeviceAuthorization(Base):
    """One RFC 8628 device authorization: the device code and the user code (SHA-256 of each),
    what the person at the browser decided and how they had logged in. Single use: ``status``
    goes pending → approved|denied → redeemed."""

    __tablename__ = "oauth2_device_authorizations"
    __table_args__ = (Index("ix_oauth2_device_authorizations_expires_at", "expires_at"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    device_code_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    user_code_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    client_id: Mapped[str] = mapped_column(String(100), nullable=False)
    scope: Mapped[str] = mapped_column(String(2000), nullable=False, default="")
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    interval: Mapped[int] = mapped_column(Integer, nullable=False)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    user_id: Mapped[UUID | None] = mapped_column(
        Uuid, ForeignKey("iam_users.id", ondelete="CASCADE"), nullable=True
    )
    auth_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    amr: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    acr: Mapped[str | None] = mapped_column(String(100), nullable=True)
    sid: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
