"""HTTP API of the scanners (``/v1/scans``): registered targets, scans started as the
``scanners.scan`` job and their progress, findings with their lifecycle (accepted risk, false
positive) and reports. Every route calls the same service functions as ``rampart scan``
(cli/scan.py) and is guarded: security staff and admins manage targets, scans and findings;
auditors and compliance officers read findings and reports (policies/defaults/rampart.yaml).
A target's header values are accepted on create and never returned, only their names."""

# No `from __future__ import annotations`: FastAPI must see the Annotated guards as objects.

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response

from core.authz import Principal, authorize
from core.http import DbSession
from core.strict_json import StrictJsonRoute
from scanners import findings as findings_service
from scanners import runner, targets
from scanners.findings import ACTIVE
from scanners.reports import MEDIA_TYPES, render
from scanners.schemas import (
    AcceptIn,
    FalsePositiveIn,
    FindingOut,
    FindingsOut,
    FindingStatus,
    ReportFormat,
    Risk,
    ScanIn,
    ScanOut,
    TargetIn,
    TargetOut,
    TargetsOut,
)

router = APIRouter(prefix="/v1/scans", tags=["scanners"], route_class=StrictJsonRoute)

TargetLister = Annotated[Principal, authorize("scans/targets", "list")]
TargetReader = Annotated[Principal, authorize("scans/targets", "read")]
TargetCreator = Annotated[Principal, authorize("scans/targets", "create")]
TargetDeleter = Annotated[Principal, authorize("scans/targets", "delete")]
ScanStarter = Annotated[Principal, authorize("scans", "create")]
ScanReader = Annotated[Principal, authorize("scans", "read")]
ScanCanceller = Annotated[Principal, authorize("scans", "cancel")]
FindingLister = Annotated[Principal, authorize("findings", "list")]
FindingReader = Annotated[Principal, authorize("findings", "read")]
FindingAccepter = Annotated[Principal, authorize("findings", "accept")]
FindingDismisser = Annotated[Principal, authorize("findings", "dismiss")]

_REPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report in the format asked for.",
        "content": {
            media.split(";")[0]: {"schema": {"type": "string"}} for media in MEDIA_TYPES.values()
        },
    }
}


def _target_out(shown: targets.TargetView) -> TargetOut:
    return TargetOut.model_validate(shown.describe())


@router.get("/targets", response_model=TargetsOut, operation_id="list_scan_targets")
def list_targets(session: DbSession, caller: TargetLister) -> TargetsOut:
    """Registered targets with their scope and header names (never values)."""
    return TargetsOut(targets=[_target_out(t) for t in targets.list_targets(session)])


@router.post(
    "/targets", status_code=201, response_model=TargetOut, operation_id="create_scan_target"
)
def create_target(body: TargetIn, session: DbSession, caller: TargetCreator) -> TargetOut:
    """Register a target; its header values are sealed at once and only their names come back."""
    added = targets.add_target(
        session,
        name=body.name,
        url=body.url,
        include=body.include,
        exclude=body.exclude,
        headers=body.headers,
        actor=caller.name,
    )
    return _target_out(added)


@router.get("/targets/{name}", response_model=TargetOut, operation_id="read_scan_target")
def read_target(name: str, session: DbSession, caller: TargetReader) -> TargetOut:
    """One target (header names only)."""
    return _target_out(targets.show_target(session, name))


@router.delete("/targets/{name}", response_model=TargetOut, operation_id="delete_scan_target")
def delete_target(name: str, session: DbSession, caller: TargetDeleter) -> TargetOut:
    """Remove a target with its scans and findings; its header key is destroyed."""
    return _target_out(targets.remove_target(session, name, actor=caller.name))


@router.post("/runs", status_code=202, response_model=ScanOut, operation_id="start_scan")
def start_scan(body: ScanIn, session: DbSession, caller: ScanStarter) -> ScanOut:
    """Queue a scan of a registered target; it runs as the ``scanners.scan`` job. Poll
    ``GET /v1/scans/runs/{scan_id}`` for its progress."""
    from scanners import jobs  # noqa: F401 - declares scanners.scan

    scan = runner.start_scan(session, body.target, body.engine, actor=caller.name)
    return ScanOut.model_validate(runner.describe_scan(scan))


@router.get("/runs/{scan_id}", response_model=ScanOut, operation_id="read_scan")
def read_scan(scan_id: UUID, session: DbSession, caller: ScanReader) -> ScanOut:
    """A scan's status and progress (pages done of those known), its findings count or error."""
    return ScanOut.model_validate(runner.describe_scan(runner.get_scan(session, scan_id)))


@router.post("/runs/{scan_id}/cancel", response_model=ScanOut, operation_id="cancel_scan")
def cancel_scan(scan_id: UUID, session: DbSession, caller: ScanCanceller) -> ScanOut:
    """Cancel a queued or running scan: it ends ``failed`` (``cancelled by ...``) and a running
    one stops at its next progress write, ingesting nothing."""
    scan = runner.cancel_scan(session, scan_id, actor=caller.name)
    return ScanOut.model_validate(runner.describe_scan(scan))


@router.get(
    "/targets/{name}/findings", response_model=FindingsOut, operation_id="list_scan_findings"
)
def list_findings(
    name: str,
    session: DbSession,
    caller: FindingLister,
    status: Annotated[list[FindingStatus] | None, Query(max_length=5)] = None,
    min_risk: Annotated[Risk, Query()] = "info",
) -> FindingsOut:
    """A target's findings, riskiest first: active ones (new, open) unless ``status`` says
    otherwise (repeatable), at or above ``min_risk``."""
    rows = findings_service.list_findings(
        session, targets.find(session, name), statuses=status or ACTIVE, min_risk=min_risk
    )
    return FindingsOut(
        findings=[FindingOut.model_validate(findings_service.describe(f)) for f in rows]
    )


@router.get("/findings/{finding_id}", response_model=FindingOut, operation_id="read_scan_finding")
def read_finding(finding_id: UUID, session: DbSession, caller: FindingReader) -> FindingOut:
    """One finding with its (masked) evidence."""
    finding = findings_service.get_finding(session, finding_id)
    return FindingOut.model_validate(findings_service.describe(finding))


@router.post(
    "/findings/{finding_id}/accept", response_model=FindingOut, operation_id="accept_scan_finding"
)
def accept_finding(
    finding_id: UUID, body: AcceptIn, session: DbSession, caller: FindingAccepter
) -> FindingOut:
    """Accept an active finding's risk until ``expires_at`` (within a year), with a reason and
    an approver; it is open again once the acceptance expires."""
    finding = findings_service.accept_risk(
        session,
        finding_id,
        reason=body.reason,
        approver=body.approver,
        until=body.expires_at,
        actor=caller.name,
    )
    return FindingOut.model_validate(findings_service.describe(finding))


@router.post(
    "/findings/{finding_id}/false-positive",
    response_model=FindingOut,
    operation_id="mark_scan_finding_false_positive",
)
def false_positive(
    finding_id: UUID, body: FalsePositiveIn, session: DbSession, caller: FindingDismisser
) -> FindingOut:
    """Mark a finding a false positive (later scans leave it so)."""
    finding = findings_service.mark_false_positive(
        session, finding_id, reason=body.reason, actor=caller.name
    )
    return FindingOut.model_validate(findings_service.describe(finding))


@router.get(
    "/targets/{name}/report",
    response_class=Response,
    responses=_REPORT_RESPONSES,
    operation_id="read_scan_report",
)
def read_report(
    name: str,
    session: DbSession,
    caller: FindingReader,
    fmt: Annotated[ReportFormat, Query(alias="format")] = "json",
) -> Response:
    """A report of the target's active findings: SARIF 2.1.0, JUnit XML, JSON or HTML."""
    row = targets.find(session, name)
    rows = findings_service.list_findings(session, row)
    data = render(fmt, target=row, scan=None, findings=rows)
    return Response(content=data, media_type=MEDIA_TYPES[fmt])
