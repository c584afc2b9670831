"""Request and response bodies of the scanners API (``/v1/scans``). A target's header *values*
are accepted on create and never part of any response: only their names are."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Risk = Literal["info", "low", "medium", "high", "critical"]
FindingStatus = Literal["new", "open", "fixed", "accepted", "false_positive"]
Engine = Literal["builtin", "wapiti", "zap"]
ReportFormat = Literal["sarif", "junit", "json", "html"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TargetIn(_In):
    name: str = Field(min_length=1, max_length=63)
    url: str = Field(min_length=1, max_length=2000)
    include: list[str] = Field(default_factory=list, max_length=50)
    """Regular expressions a URL must fully match to be fetched (none: the whole origin)."""
    exclude: list[str] = Field(default_factory=list, max_length=50)
    """Regular expressions of URLs never fetched."""
    headers: dict[str, str] = Field(default_factory=dict, max_length=20)
    """Auth headers sent with every request of a scan: sealed at once, never shown again."""


class TargetOut(BaseModel):
    id: UUID
    name: str
    url: str
    include: list[str]
    exclude: list[str]
    header_names: list[str]
    """The names of the target's sealed headers; their values are never returned."""
    created_by: str
    created_at: datetime


class TargetsOut(BaseModel):
    targets: list[TargetOut]


class ScanIn(_In):
    target: str = Field(min_length=1, max_length=63)
    engine: Engine = "builtin"


class ScanOut(BaseModel):
    id: UUID
    target_id: UUID
    engine: str
    status: Literal["queued", "running", "complete", "failed"]
    job_run_id: UUID | None
    triggered_by: str
    pages_done: int
    pages_total: int
    """Progress: pages (or engine steps) done out of those known so far."""
    findings: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class FindingOut(BaseModel):
    id: UUID
    fingerprint: str
    engine: str
    rule: str
    title: str
    cwe: int | None
    zap_plugin_id: int | None
    risk: str
    confidence: str
    url_template: str
    url: str
    parameter: str
    method: str
    evidence: str
    """Masked at ingest (card numbers, secrets)."""
    status: FindingStatus
    first_seen_at: datetime
    last_seen_at: datetime
    sla_due_at: datetime
    fixed_at: datetime | None
    reason: str | None
    approver: str | None
    accepted_until: datetime | None


class FindingsOut(BaseModel):
    findings: list[FindingOut]


class AcceptIn(_In):
    reason: str = Field(min_length=1, max_length=2000)
    approver: str = Field(min_length=1, max_length=255)
    expires_at: AwareDatetime
    """When the acceptance ends (within a year); the finding is open again afterwards."""


class FalsePositiveIn(_In):
    reason: str = Field(min_length=1, max_length=2000)
