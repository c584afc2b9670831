"""HTTP API of remediations (``/v1/compliance/remediations``): list them, read one, approve or
reject a pending one. Guarded like the rest of the compliance API: compliance officers and
security staff decide, auditors read (policies/defaults/rampart.yaml)."""

# No `from __future__ import annotations`: FastAPI must see the Annotated guards as objects.

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query

from compliance.remediation import (
    approve_remediation,
    list_remediations,
    reject_remediation,
)
from compliance.remediation_schemas import DecisionIn, RemediationOut, RemediationsOut
from core.authz import Principal, authorize
from core.errors import NotFound
from core.http import DbSession
from core.strict_json import StrictJsonRoute

router = APIRouter(
    prefix="/v1/compliance/remediations", tags=["compliance"], route_class=StrictJsonRoute
)

RemediationLister = Annotated[Principal, authorize("compliance/remediations", "list")]
RemediationReader = Annotated[Principal, authorize("compliance/remediations", "read")]
RemediationApprover = Annotated[Principal, authorize("compliance/remediations", "approve")]
RemediationRejecter = Annotated[Principal, authorize("compliance/remediations", "reject")]

Status = Literal["pending", "queued", "approved", "running", "succeeded", "failed", "rejected"]


@router.get("", response_model=RemediationsOut, operation_id="list_compliance_remediations")
def list_all(
    session: DbSession,
    caller: RemediationLister,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> RemediationsOut:
    """Remediations, newest first; ``status=pending`` lists those waiting for a decision."""
    rows = list_remediations(session, status=status, limit=limit)
    return RemediationsOut(remediations=[RemediationOut.of(row) for row in rows])


@router.get(
    "/{remediation_id}", response_model=RemediationOut, operation_id="read_compliance_remediation"
)
def read_one(remediation_id: UUID, session: DbSession, caller: RemediationReader) -> RemediationOut:
    """One remediation with its proposed, before and after state."""
    from compliance.models import RemediationRun

    row = session.get(RemediationRun, remediation_id)
    if row is None:
        raise NotFound(f"no remediation {remediation_id}")
    return RemediationOut.of(row)


@router.post(
    "/{remediation_id}/approve",
    response_model=RemediationOut,
    operation_id="approve_compliance_remediation",
)
def approve(
    remediation_id: UUID, body: DecisionIn, session: DbSession, caller: RemediationApprover
) -> RemediationOut:
    """Approve a pending remediation: its run is queued (the ``compliance.remediate`` job)."""
    row = approve_remediation(session, remediation_id, actor=caller.name, note=body.note)
    return RemediationOut.of(row)


@router.post(
    "/{remediation_id}/reject",
    response_model=RemediationOut,
    operation_id="reject_compliance_remediation",
)
def reject(
    remediation_id: UUID, body: DecisionIn, session: DbSession, caller: RemediationRejecter
) -> RemediationOut:
    """Reject a pending remediation (a note saying why is required); it never runs."""
    row = reject_remediation(session, remediation_id, actor=caller.name, note=body.note)
    return RemediationOut.of(row)
