"""Tables of the GDPR data-subject requests: requests, their state transitions (events), each
connector's outcome, the package, its single-use download links and the signed certificate.

Rectification ``changes`` are personal data: they are kept only until fulfilment (cleared when
the request completes, is rejected or withdrawn), never copied into events or the audit ledger."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.database import Base, UTCDateTime
from core.ids import uuid7


class DsarRequest(Base):
    __tablename__ = "gdpr_requests"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    type: Mapped[str] = mapped_column(String(20), nullable=False)
    subject: Mapped[str] = mapped_column(String(320), nullable=False, index=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    channel: Mapped[str] = mapped_column(String(20), nullable=False)
    state: Mapped[str] = mapped_column(String(30), nullable=False, index=True)
    changes: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON, until fulfilment
    purposes: Mapped[str] = mapped_column(Text, nullable=False, default="[]")  # JSON list
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    extended_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    extension_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    extension_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    paused_days: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    rejection_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    package_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The signed evidence record of the completion (compliance.evidence), gdpr:art-12.3.
    evidence_id: Mapped[UUID | None] = mapped_column(Uuid, nullable=True)


class DsarEvent(Base):
    __tablename__ = "gdpr_events"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    request_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("gdpr_requests.id", ondelete="CASCADE"), nullable=False, index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    from_state: Mapped[str | None] = mapped_column(String(30), nullable=True)
    to_state: Mapped[str] = mapped_column(String(30), nullable=False)
    actor: Mapped[str] = mapped_column(String(255), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class DsarOutcome(Base):
    __tablename__ = "gdpr_outcomes"

    request_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("gdpr_requests.id", ondelete="CASCADE"), primary_key=True
    )
    connector: Mapped[str] = mapped_column(String(100), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    rows: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    method: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    holds: Mapped[str] = mapped_column(Text, nullable=False, default="[]")  # JSON
    # The Art. 15(1) information the system gave (ProcessingInfo as JSON): no personal data.
    info: Mapped[str | None] = mapped_column(Text, nullable=True)
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    # The datasets of an access/portability answer (personal data), AES-256-GCM under their own
    # KMS data key until the package is built from every outcome; then key and bytes go.
    datasets_key_id: Mapped[UUID | None] = mapped_column(Uuid, nullable=True)
    datasets_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class DsarPackage(Base):
    """The access/portability package, AES-256-GCM under the KMS data key ``key_id``."""

    __tablename__ = "gdpr_packages"

    request_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("gdpr_requests.id", ondelete="CASCADE"), primary_key=True
    )
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    key_id: Mapped[UUID | None] = mapped_column(Uuid, nullable=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class DsarDownloadLink(Base):
    __tablename__ = "gdpr_download_links"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    request_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("gdpr_requests.id", ondelete="CASCADE"), nullable=False, index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class DsarCertificate(Base):
    __tablename__ = "gdpr_certificates"

    request_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("gdpr_requests.id", ondelete="CASCADE"), primary_key=True
    )
    certificate_json: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    signature: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    public_key_pem: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
