"""HTTP API of the compliance engine (``/v1/compliance``): posture per framework, controls with
status and trend, a control's evidence history, run now, waivers. Every route is guarded:
compliance officers may do everything, auditors read (policies/defaults/rampart.yaml)."""

# No `from __future__ import annotations`: FastAPI must see the Annotated guards as objects.

from typing import Annotated
from uuid import UUID

import orjson
from fastapi import APIRouter, Query

from compliance.config import ComplianceConfig
from compliance.controls import ControlLibrary
from compliance.exceptions import UnknownControl
from compliance.models import EvidenceRecord, Waiver
from compliance.posture import STATUSES, ControlPosture, checks_of, posture
from compliance.repository import evidence_of_checks, waivers
from compliance.schemas import (
    ControlDetailOut,
    ControlOut,
    ControlsOut,
    EvidenceOut,
    FrameworkPostureOut,
    PostureOut,
    RunAcceptedOut,
    RunIn,
    TrendPoint,
    WaiverIn,
    WaiverOut,
    WaiversOut,
)
from compliance.service import grant_waiver, revoke_waiver
from core.authz import Principal, authorize
from core.clock import utcnow
from core.http import DbSession
from core.jobs import enqueue
from core.strict_json import StrictJsonRoute

router = APIRouter(prefix="/v1/compliance", tags=["compliance"], route_class=StrictJsonRoute)

ComplianceReader = Annotated[Principal, authorize("compliance", "read")]
ComplianceLister = Annotated[Principal, authorize("compliance", "list")]
ComplianceRunner = Annotated[Principal, authorize("compliance", "run")]
WaiverLister = Annotated[Principal, authorize("compliance/waivers", "list")]
WaiverGranter = Annotated[Principal, authorize("compliance/waivers", "create")]
WaiverRevoker = Annotated[Principal, authorize("compliance/waivers", "revoke")]

_TREND_POINTS = 10


def _library() -> ControlLibrary:
    return ComplianceConfig.from_env().library()


@router.get("/posture", response_model=PostureOut, operation_id="compliance_posture")
def read_posture(session: DbSession, caller: ComplianceReader) -> PostureOut:
    """Controls per status and the share passing, per framework."""
    library, now = _library(), utcnow()
    frameworks = []
    for framework in library.frameworks.values():
        items = posture(session, library, now, framework.id)
        counts = {status: sum(1 for i in items if i.status == status) for status in STATUSES}
        judged = len(items) - counts["waived"]
        frameworks.append(
            FrameworkPostureOut(
                framework=framework.id,
                name=framework.name,
                controls=len(items),
                counts=counts,
                percent_passing=round(100.0 * counts["pass"] / judged, 1) if judged else 100.0,
            )
        )
    return PostureOut(frameworks=frameworks, at=now)


def _control_out(item: ControlPosture, trend: list[EvidenceRecord]) -> ControlOut:
    return ControlOut(
        control=item.control_id,
        title=item.title,
        status=item.status,
        reasons=list(item.reasons),
        last_evidence_at=item.last_evidence_at,
        trend=[
            TrendPoint(at=r.finished_at, check=r.check_id, status=r.status) for r in reversed(trend)
        ],
    )


@router.get("/controls", response_model=ControlsOut, operation_id="list_compliance_controls")
def list_controls(
    session: DbSession,
    caller: ComplianceLister,
    framework: Annotated[str | None, Query(max_length=100)] = None,
) -> ControlsOut:
    """Every control with its status, why, and the trend of its newest evidence."""
    library = _library()
    if framework is not None and framework not in library.frameworks:
        raise UnknownControl(f"unknown framework {framework!r}")
    items = posture(session, library, utcnow(), framework)
    controls = []
    for item in items:
        fw, control = library.control(item.control_id)
        trend = evidence_of_checks(session, checks_of(fw, control), _TREND_POINTS)
        controls.append(_control_out(item, trend))
    return ControlsOut(controls=controls)


def _evidence_out(record: EvidenceRecord) -> EvidenceOut:
    return EvidenceOut(
        id=record.id,
        check=record.check_id,
        check_version=record.check_version,
        controls=orjson.loads(record.control_ids),
        status=record.status,
        observed=orjson.loads(record.observed),
        expected=orjson.loads(record.expected),
        detail=record.detail,
        target=record.target,
        collector=record.collector,
        started_at=record.started_at,
        finished_at=record.finished_at,
        sha256=record.digest,
        key_fingerprint=record.key_fingerprint,
        audit_seq=record.audit_seq,
    )


@router.get(
    "/controls/{control_id}",
    response_model=ControlDetailOut,
    operation_id="read_compliance_control",
)
def read_control(
    control_id: str,
    session: DbSession,
    caller: ComplianceReader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> ControlDetailOut:
    """A control: its definition, status and evidence history, newest first."""
    library = _library()
    try:
        fw, control = library.control(control_id)
    except KeyError:
        raise UnknownControl(f"unknown control {control_id!r}") from None
    (item,) = [p for p in posture(session, library, utcnow(), fw.id) if p.control_id == control_id]
    checks = checks_of(fw, control)
    history = evidence_of_checks(session, checks, limit)
    summary = _control_out(item, history[:_TREND_POINTS])
    return ControlDetailOut(
        **summary.model_dump(),
        reference=control.reference,
        owner_role=control.owner_role,
        frequency=control.frequency,
        checks=checks,
        manual=control.manual.description if control.manual else None,
        evidence=[_evidence_out(record) for record in history],
    )


@router.post(
    "/runs", status_code=202, response_model=RunAcceptedOut, operation_id="run_compliance_checks"
)
def run_now(body: RunIn, session: DbSession, caller: ComplianceRunner) -> RunAcceptedOut:
    """Queue a run of the checks of a framework, a control or all (the ``compliance.run`` job)."""
    from compliance import jobs  # noqa: F401 - declares compliance.run

    library = _library()
    if body.control is not None:
        try:
            library.control(body.control)
        except KeyError:
            raise UnknownControl(f"unknown control {body.control!r}") from None
    if body.framework is not None and body.framework not in library.frameworks:
        raise UnknownControl(f"unknown framework {body.framework!r}")
    args = {"framework": body.framework, "control": body.control, "triggered_by": caller.name}
    run_id = enqueue(session, "compliance.run", args)
    return RunAcceptedOut(job_run_id=run_id, scope=body.control or body.framework or "all")


def _waiver_out(waiver: Waiver) -> WaiverOut:
    now = utcnow()
    return WaiverOut(
        id=waiver.id,
        control=waiver.control_id,
        reason=waiver.reason,
        approver=waiver.approver,
        created_by=waiver.created_by,
        created_at=waiver.created_at,
        expires_at=waiver.expires_at,
        revoked_at=waiver.revoked_at,
        active=waiver.revoked_at is None and waiver.expires_at > now,
    )


@router.get("/waivers", response_model=WaiversOut, operation_id="list_compliance_waivers")
def list_waivers(session: DbSession, caller: WaiverLister, active: bool = False) -> WaiversOut:
    """Waivers, newest first; ``active=true`` keeps those that count now."""
    rows = waivers(session, active_at=utcnow() if active else None)
    return WaiversOut(waivers=[_waiver_out(row) for row in rows])


@router.post(
    "/waivers", status_code=201, response_model=WaiverOut, operation_id="grant_compliance_waiver"
)
def create_waiver(body: WaiverIn, session: DbSession, caller: WaiverGranter) -> WaiverOut:
    """Waive a control until ``expires_at``: a reason and an approver are required."""
    waiver = grant_waiver(
        session,
        _library(),
        control_id=body.control,
        reason=body.reason,
        approver=body.approver,
        expires_at=body.expires_at,
        actor=caller.name,
    )
    return _waiver_out(waiver)


@router.delete(
    "/waivers/{waiver_id}", response_model=WaiverOut, operation_id="revoke_compliance_waiver"
)
def delete_waiver(waiver_id: UUID, session: DbSession, caller: WaiverRevoker) -> WaiverOut:
    """Revoke a waiver: the control is judged on its evidence again at once."""
    return _waiver_out(revoke_waiver(session, waiver_id, actor=caller.name))
