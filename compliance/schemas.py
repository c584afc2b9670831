"""Request and response bodies of the compliance API (``/v1/compliance``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from compliance.posture import ControlStatus


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FrameworkPostureOut(BaseModel):
    framework: str
    name: str
    controls: int
    counts: dict[ControlStatus, int]
    """Controls per status: pass, failing, error, manual-due, waived."""
    percent_passing: float
    """Passing controls over controls not waived, in percent (100 when all are waived)."""


class PostureOut(BaseModel):
    frameworks: list[FrameworkPostureOut]
    at: datetime


class TrendPoint(BaseModel):
    at: datetime
    check: str
    status: str


class ControlOut(BaseModel):
    control: str
    title: str
    status: ControlStatus
    reasons: list[str]
    last_evidence_at: datetime | None
    trend: list[TrendPoint]
    """The newest evidence of the control's checks, oldest first."""


class ControlsOut(BaseModel):
    controls: list[ControlOut]


class EvidenceOut(BaseModel):
    id: UUID
    check: str
    check_version: str
    controls: list[str]
    status: str
    observed: Any
    expected: Any
    detail: str
    target: str
    collector: str
    started_at: datetime
    finished_at: datetime
    sha256: str
    key_fingerprint: str
    audit_seq: int


class ControlDetailOut(ControlOut):
    reference: str
    owner_role: str
    frequency: str
    checks: list[str]
    manual: str | None
    evidence: list[EvidenceOut]


class RunIn(_In):
    framework: str | None = Field(default=None, max_length=100)
    control: str | None = Field(default=None, max_length=200)


class RunAcceptedOut(BaseModel):
    job_run_id: UUID
    scope: str
    status: Literal["queued"] = "queued"


class WaiverIn(_In):
    control: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)
    approver: str = Field(min_length=1, max_length=255)
    expires_at: AwareDatetime
    """With its offset: a waiver's end is a moment, not a local wall-clock time."""


class WaiverOut(BaseModel):
    id: UUID
    control: str
    reason: str
    approver: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    active: bool


class WaiversOut(BaseModel):
    waivers: list[WaiverOut]
