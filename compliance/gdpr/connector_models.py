"""Tables of the configured GDPR connectors: shop services' webhooks and manual tasks for
systems without an API, and the tasks those open.

A webhook's HMAC secret is AES-256-GCM under a KMS data key of its own (``secret_key_id``),
bound to the connector's id; only its existence is ever shown, and the key is destroyed when the
connector is deleted or its secret rotated (crypto-shredding)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Boolean, Float, ForeignKey, Integer, LargeBinary, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

import compliance.gdpr.models  # noqa: F401  (gdpr_requests, which tasks refer to)
from core.clock import utcnow
from core.database import Base, UTCDateTime
from core.ids import uuid7


class DsarConnectorConfig(Base):
    __tablename__ = "gdpr_connectors"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    # The outcome key of the workflow: unique, and never a built-in's ``rampart.*`` name.
    name: Mapped[str] = mapped_column(String(63), nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)  # webhook | manual
    types: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list of request types
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # webhook
    url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    timeout_seconds: Mapped[float] = mapped_column(Float, nullable=False, default=10.0)
    secret_key_id: Mapped[UUID | None] = mapped_column(Uuid, nullable=True)
    secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # manual
    instructions: Mapped[str | None] = mapped_column(Text, nullable=True)
    assignee_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    created_by: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class DsarTask(Base):
    """A manual connector's task for one request: open until an officer records the result."""

    __tablename__ = "gdpr_tasks"

    request_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("gdpr_requests.id", ondelete="CASCADE"), primary_key=True
    )
    connector: Mapped[str] = mapped_column(String(63), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False)  # open|done|not_applicable
    rows_affected: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    method: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
