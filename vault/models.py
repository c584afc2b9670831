"""The token store (ciphertexts under KMS data keys) and the vault's key assignments."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.database import Base, UTCDateTime
from core.ids import uuid7


class VaultToken(Base):
    """One tokenized value: never the value itself, only its AES-GCM ciphertext."""

    __tablename__ = "vault_tokens"
    __table_args__ = (
        # The collision guard: a token is unique per tenant whatever its type or format.
        UniqueConstraint("tenant", "token", name="uq_vault_tokens_tenant_token"),
        Index("ix_vault_tokens_fingerprint", "tenant", "token_type", "fingerprint"),
        Index("ix_vault_tokens_subject", "tenant", "subject"),
        Index("ix_vault_tokens_expires_at", "expires_at"),
    )

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    tenant: Mapped[str] = mapped_column(String(100), nullable=False)
    token: Mapped[str] = mapped_column(String(300), nullable=False)
    token_type: Mapped[str] = mapped_column(String(20), nullable=False)
    token_format: Mapped[str] = mapped_column(String(40), nullable=False)
    deterministic: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    single_use: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    data_key_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("data_keys.id"), nullable=False)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    fingerprint: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    # The comparison scope the fingerprint (and a deterministic token) was computed in
    # (vault.oracles): shown only to a caller of that scope. NULL: before scopes, never shown.
    fingerprint_scope: Mapped[str | None] = mapped_column(String(250), nullable=True)
    subject: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    def __repr__(self) -> str:
        return f"VaultToken(id={self.id}, type={self.token_type!r})"


class VaultKey(Base):
    """Which data key serves a scope of a tenant: ``type:<type>:<period>``, ``subject:<id>``,
    ``fingerprint`` or ``sad:<period>``. Erasing a subject deletes its row and destroys the key."""

    __tablename__ = "vault_keys"
    __table_args__ = (UniqueConstraint("tenant", "scope", name="uq_vault_keys_tenant_scope"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    tenant: Mapped[str] = mapped_column(String(100), nullable=False)
    scope: Mapped[str] = mapped_column(String(250), nullable=False)
    data_key_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("data_keys.id"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class VaultCandidateBudget(Base):
    """How many comparable answers (fingerprints shown, new deterministic tokens) a caller got
    in its current window (vault.oracles). In the database, so every replica counts alike."""

    __tablename__ = "vault_candidate_budgets"

    tenant: Mapped[str] = mapped_column(String(100), primary_key=True)
    caller: Mapped[str] = mapped_column(String(250), primary_key=True)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class VaultProxyRoute(Base):
    """An allow-listed proxy destination: which JSON fields an outbound route detokenizes (for
    its declared purpose) or an inbound route tokenizes before forwarding to ``destination``."""

    __tablename__ = "vault_proxy_routes"
    __table_args__ = (UniqueConstraint("tenant", "name", name="uq_vault_proxy_routes_tenant_name"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    tenant: Mapped[str] = mapped_column(String(100), nullable=False)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    direction: Mapped[str] = mapped_column(String(10), nullable=False)
    destination: Mapped[str] = mapped_column(String(2048), nullable=False)
    methods: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    # [{"path": "$.card.number", "type": "pan", "format": null}, ...]
    fields: Mapped[list[dict[str, str | None]]] = mapped_column(JSON, nullable=False)
    purpose: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Inbound only: the KMS data key whose bytes are the route's HMAC signing secret.
    secret_key_id: Mapped[UUID | None] = mapped_column(
        Uuid, ForeignKey("data_keys.id"), nullable=True
    )
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    def __repr__(self) -> str:
        return f"VaultProxyRoute(name={self.name!r}, direction={self.direction!r})"
