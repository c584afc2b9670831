"""Tables of the compliance engine: check runs, signed evidence with its artefacts, waivers,
manual evidence uploads, the last known status of each control (for drift alerts) and the
remediations proposed for failing controls."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
    event,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from core.clock import utcnow
from core.database import Base, UTCDateTime
from core.errors import Conflict
from core.ids import uuid7


class CheckRun(Base):
    """One run of the engine over a scope (``all``, a framework id or a qualified control id)."""

    __tablename__ = "compliance_check_runs"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    scope: Mapped[str] = mapped_column(String(200), nullable=False)
    triggered_by: Mapped[str] = mapped_column(String(255), nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    results: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    errors: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class EvidenceRecord(Base):
    """One check result, immutable once written: every column but ``id`` and ``run_id`` is
    covered by the Ed25519 signature (see ``compliance.evidence.canonical_evidence``)."""

    __tablename__ = "compliance_evidence"
    __table_args__ = (
        Index("ix_compliance_evidence_check_id", "check_id", "finished_at"),
        Index("ix_compliance_evidence_finished_at", "finished_at"),
    )

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    run_id: Mapped[UUID | None] = mapped_column(
        Uuid, ForeignKey("compliance_check_runs.id"), nullable=True, index=True
    )
    check_id: Mapped[str] = mapped_column(String(200), nullable=False)
    check_version: Mapped[str] = mapped_column(String(64), nullable=False)
    # JSON array of qualified control ids, canonical text exactly as signed.
    control_ids: Mapped[str] = mapped_column(Text, nullable=False)
    target: Mapped[str] = mapped_column(String(500), nullable=False)
    collector: Mapped[str] = mapped_column(String(255), nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    observed: Mapped[str] = mapped_column(Text, nullable=False)
    expected: Mapped[str] = mapped_column(Text, nullable=False)
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # JSON array of {name, media_type, sha256}, canonical text exactly as signed.
    artefacts: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    digest: Mapped[str] = mapped_column(String(64), nullable=False)
    """SHA-256 (hex) of the canonical JSON; the audit entry's details carry it too."""
    signature: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    key_fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    audit_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)


class EvidenceArtefact(Base):
    """The bytes of an artefact named in its evidence record (which signs their SHA-256)."""

    __tablename__ = "compliance_artefacts"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    evidence_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("compliance_evidence.id"), nullable=False, index=True
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    media_type: Mapped[str] = mapped_column(String(100), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class Waiver(Base):
    """An accepted exception for a control until ``expires_at``; past it, it counts no more."""

    __tablename__ = "compliance_waivers"
    __table_args__ = (Index("ix_compliance_waivers_control_id", "control_id", "expires_at"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    control_id: Mapped[str] = mapped_column(String(200), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    approver: Mapped[str] = mapped_column(String(255), nullable=False)
    created_by: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ManualEvidence(Base):
    """A document uploaded for a control's manual evidence slot, with its SHA-256."""

    __tablename__ = "compliance_manual_evidence"
    __table_args__ = (Index("ix_compliance_manual_evidence_control_id", "control_id"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    control_id: Mapped[str] = mapped_column(String(200), nullable=False)
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    media_type: Mapped[str] = mapped_column(String(100), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    owner: Mapped[str] = mapped_column(String(255), nullable=False)
    uploaded_by: Mapped[str] = mapped_column(String(255), nullable=False)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    """When the next upload is due (the control's frequency after this one)."""


class ControlState(Base):
    """The last status computed for a control, so a change to ``failing`` is seen once."""

    __tablename__ = "compliance_control_states"

    control_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class AlertDelivery(Base):
    """One drift alert webhook and how its delivery went (the delivery log)."""

    __tablename__ = "compliance_alert_deliveries"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    control_id: Mapped[str] = mapped_column(String(200), nullable=False, index=True)
    url: Mapped[str] = mapped_column(String(2000), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    """``pending`` (retrying), ``delivered`` or ``failed`` (attempts used up)."""
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RemediationRun(Base):
    """One remediation of a failing control, from its proposal to its outcome.

    ``pending`` (waits for an officer) or ``queued`` (``auto``) → ``approved`` → ``running`` →
    ``succeeded`` | ``failed``; or ``rejected``. ``open_key`` holds the action while the
    remediation is open and is NULL once closed: the unique index keeps one open remediation per
    action, however many replicas propose it at once."""

    __tablename__ = "compliance_remediations"
    __table_args__ = (Index("ix_compliance_remediations_status", "status", "created_at"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    action: Mapped[str] = mapped_column(String(100), nullable=False)
    control_ids: Mapped[str] = mapped_column(Text, nullable=False)
    """JSON array of the failing qualified control ids that asked for it."""
    mode: Mapped[str] = mapped_column(String(20), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    open_key: Mapped[str | None] = mapped_column(String(100), nullable=True, unique=True)
    reasons: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    proposed_state: Mapped[str] = mapped_column(Text, nullable=False)
    """JSON: what the action found to do when it was proposed (ids and counts, no secrets)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision_note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    job_run_id: Mapped[UUID | None] = mapped_column(Uuid, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    before_state: Mapped[str | None] = mapped_column(Text, nullable=True)
    after_state: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome: Mapped[str | None] = mapped_column(Text, nullable=True)
    """JSON: what the action reported doing (``{"disabled": 1}``)."""
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)


def _refuse_update(_mapper: Mapper[Any], _connection: Any, target: object) -> None:
    raise Conflict(f"{type(target).__name__} is immutable evidence and cannot be changed")


for _immutable in (EvidenceRecord, EvidenceArtefact, ManualEvidence):
    event.listen(_immutable, "before_update", _refuse_update)
