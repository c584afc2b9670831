"""Request and response bodies of the remediation API (``/v1/compliance/remediations``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict, Field

from compliance.models import RemediationRun


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=2000)
    """Why: optional for an approval, required for a rejection."""


class RemediationOut(BaseModel):
    id: UUID
    action: str
    controls: list[str]
    mode: str
    """``auto`` (queued at once) or ``approval`` (waits for an officer)."""
    status: str
    """pending, queued, approved, running, succeeded, failed or rejected."""
    reasons: list[str]
    proposed_state: dict[str, Any]
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str
    job_run_id: UUID | None
    started_at: datetime | None
    finished_at: datetime | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    outcome: dict[str, Any] | None
    error: str | None

    @classmethod
    def of(cls, row: RemediationRun) -> RemediationOut:
        def parsed(text: str | None) -> Any:
            return orjson.loads(text) if text is not None else None

        return cls(
            id=row.id,
            action=row.action,
            controls=orjson.loads(row.control_ids),
            mode=row.mode,
            status=row.status,
            reasons=orjson.loads(row.reasons),
            proposed_state=orjson.loads(row.proposed_state),
            created_at=row.created_at,
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            decision_note=row.decision_note,
            job_run_id=row.job_run_id,
            started_at=row.started_at,
            finished_at=row.finished_at,
            before=parsed(row.before_state),
            after=parsed(row.after_state),
            outcome=parsed(row.outcome),
            error=row.error,
        )


class RemediationsOut(BaseModel):
    remediations: list[RemediationOut]
