"""Tables of the scanners: registered targets (header secrets sealed under a KMS data key),
scans (a job's progress and outcome) and findings (one row per fingerprint and target)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.database import Base, UTCDateTime
from core.ids import uuid7


class ScanTarget(Base):
    """A URL scans may reach, with its scope; ``headers_sealed`` holds the auth headers as
    AES-256-GCM under ``headers_key_id`` (a KMS data key destroyed with the target)."""

    __tablename__ = "scanners_targets"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    name: Mapped[str] = mapped_column(String(63), nullable=False, unique=True)
    url: Mapped[str] = mapped_column(String(2000), nullable=False)
    include: Mapped[str] = mapped_column(Text, nullable=False, default="[]")  # JSON list
    exclude: Mapped[str] = mapped_column(Text, nullable=False, default="[]")  # JSON list
    header_names: Mapped[str] = mapped_column(Text, nullable=False, default="[]")  # JSON list
    headers_key_id: Mapped[UUID | None] = mapped_column(Uuid, nullable=True)
    headers_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # An ISO 8601 duration (P1D, P2W, P1M) or a five-field cron expression (UTC); None: off.
    schedule: Mapped[str | None] = mapped_column(String(100), nullable=True)
    engine: Mapped[str] = mapped_column(
        String(20), nullable=False, default="builtin", server_default="builtin"
    )
    # The slot the last scheduled scan was started for (compare-and-set by scanners.schedule_due).
    last_scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The Rampart OAuth2 client whose client-credentials token a scan sends as its bearer.
    auth_client: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_by: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class Scan(Base):
    """One scan of a target by an engine; ``status``: queued, running, complete or failed.
    Progress columns are written while it runs, so another process can watch it."""

    __tablename__ = "scanners_scans"
    __table_args__ = (Index("ix_scanners_scans_target_engine", "target_id", "engine", "status"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    target_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("scanners_targets.id", ondelete="CASCADE"), nullable=False
    )
    engine: Mapped[str] = mapped_column(String(20), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="queued")
    job_run_id: Mapped[UUID | None] = mapped_column(Uuid, nullable=True)
    triggered_by: Mapped[str] = mapped_column(String(255), nullable=False)
    pages_done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    pages_total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    findings: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # JSON list of the fingerprints this scan observed (what a later scan is compared with).
    observed: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Finding(Base):
    """One issue on one target, deduplicated by fingerprint across scans and engines.
    ``status``: new, open, fixed, accepted or false_positive. Evidence is stored masked."""

    __tablename__ = "scanners_findings"
    __table_args__ = (
        UniqueConstraint("target_id", "fingerprint", name="uq_scanners_findings_fingerprint"),
        Index("ix_scanners_findings_status", "target_id", "status"),
    )

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    target_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("scanners_targets.id", ondelete="CASCADE"), nullable=False
    )
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    engine: Mapped[str] = mapped_column(String(20), nullable=False)
    rule: Mapped[str] = mapped_column(String(100), nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    cwe: Mapped[int | None] = mapped_column(Integer, nullable=True)
    zap_plugin_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    risk: Mapped[str] = mapped_column(String(20), nullable=False)
    confidence: Mapped[str] = mapped_column(String(20), nullable=False)
    url_template: Mapped[str] = mapped_column(String(2000), nullable=False)
    url: Mapped[str] = mapped_column(String(2000), nullable=False)
    parameter: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    method: Mapped[str] = mapped_column(String(10), nullable=False, default="GET")
    evidence: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="new")
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_scan_id: Mapped[UUID | None] = mapped_column(Uuid, nullable=True)
    sla_due_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    fixed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    approver: Mapped[str | None] = mapped_column(String(255), nullable=True)
    accepted_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
