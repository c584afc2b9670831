"""/v1/dsar: data-subject requests filed on a customer's behalf (shop services, channel ``api``)
or by an officer (letters, phone calls, channel ``officer``), the officer's decisions, processing
now (the same ``workflow.process_request`` the ``gdpr.process_due`` job runs), the signed
certificate and the access/portability package.

A service sees only the requests it filed, and never the rectification values; officers see
every request. The policies decide who may call what (policies/defaults/rampart.yaml)."""

# No `from __future__ import annotations`: FastAPI must see the Annotated guards as objects.

import base64
import json
from datetime import timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session

from compliance.gdpr import decisions, service, workflow
from compliance.gdpr.connectors.base import REQUEST_TYPES, SubjectRef
from compliance.gdpr.exceptions import RequestNotFound
from compliance.gdpr.models import DsarEvent, DsarOutcome, DsarRequest
from compliance.gdpr.schemas import (
    CertificateOut,
    EventOut,
    ExtendIn,
    FileIn,
    HoldOut,
    OutcomeOut,
    ReasonIn,
    RequestDetailOut,
    RequestOut,
    RequestsOut,
)
from compliance.gdpr.states import OPEN_STATES, STATES
from core.audit.service import record_event
from core.authz import Principal, authorize
from core.clock import utcnow
from core.database import unit_of_work
from core.errors import Conflict, ValidationFailed
from core.http import DbSession
from core.strict_json import StrictJsonRoute

router = APIRouter(prefix="/v1/dsar", tags=["dsar"], route_class=StrictJsonRoute)

Filer = Annotated[Principal, authorize("dsar/requests", "file")]
Reader = Annotated[Principal, authorize("dsar/requests", "read")]
Verifier = Annotated[Principal, authorize("dsar/requests", "verify")]
Inquirer = Annotated[Principal, authorize("dsar/requests", "request_information")]
Approver = Annotated[Principal, authorize("dsar/requests", "approve")]
Rejecter = Annotated[Principal, authorize("dsar/requests", "reject")]
Extender = Annotated[Principal, authorize("dsar/requests", "extend")]
Processor = Annotated[Principal, authorize("dsar/requests", "process")]
CertificateReader = Annotated[Principal, authorize("dsar/certificates", "read")]
PackageExporter = Annotated[Principal, authorize("dsar/packages", "export")]

VERIFY_COMMAND = (
    "openssl pkeyutl -verify -pubin -inkey public-key.pem -rawin -in certificate.json "
    "-sigfile certificate.sig"
)


def _filed_by(principal: Principal) -> str | None:
    """The actor whose filings a caller may see: a service its own, an officer (None) all."""
    return principal.name if principal.kind == "service" else None


def _filed_by_clause(actor: str) -> ColumnElement[bool]:
    return exists().where(
        DsarEvent.request_id == DsarRequest.id,
        DsarEvent.from_state.is_(None),
        DsarEvent.actor == actor,
    )


def _visible(session: Session, request_id: UUID, principal: Principal) -> DsarRequest:
    request = service.get_request(session, request_id)
    actor = _filed_by(principal)
    if actor is not None:
        filed = session.scalar(
            select(DsarEvent.id).where(
                DsarEvent.request_id == request_id,
                DsarEvent.from_state.is_(None),
                DsarEvent.actor == actor,
            )
        )
        if filed is None:
            raise RequestNotFound()
    return request


def _request_out(request: DsarRequest, principal: Principal) -> RequestOut:
    now = utcnow()
    due = request.extended_due_at or request.due_at
    is_open = request.state in OPEN_STATES
    changes = json.loads(request.changes) if request.changes else None
    officer = principal.kind == "user"
    return RequestOut(
        id=str(request.id),
        type=request.type,
        subject=request.subject,
        email=request.email,
        channel=request.channel,
        state=request.state,
        purposes=json.loads(request.purposes),
        changes=changes if officer else None,
        note=request.note if officer else None,
        received_at=request.received_at,
        due_at=due,
        original_due_at=request.due_at,
        extended=request.extended_due_at is not None,
        extension_reason=request.extension_reason,
        days_left=(due - now) // timedelta(days=1),
        overdue=is_open and now > due,
        paused=request.paused_at is not None,
        completed_at=request.completed_at,
        rejection_reason=request.rejection_reason,
        package_sha256=request.package_sha256,
    )


def _detail(session: Session, request: DsarRequest, principal: Principal) -> RequestDetailOut:
    outcomes = session.scalars(
        select(DsarOutcome)
        .where(DsarOutcome.request_id == request.id)
        .order_by(DsarOutcome.connector)
    ).all()
    return RequestDetailOut(
        request=_request_out(request, principal),
        history=[
            EventOut(
                at=e.at,
                from_state=e.from_state,
                to_state=e.to_state,
                actor=e.actor,
                reason=e.reason,
            )
            for e in service.request_history(session, request.id)
        ],
        outcomes=[
            OutcomeOut(
                connector=o.connector,
                status=o.status,
                rows=o.rows,
                method=o.method,
                holds=[HoldOut(**h) for h in json.loads(o.holds)],
                attempts=o.attempts,
                detail=o.detail,
                updated_at=o.updated_at,
            )
            for o in outcomes
        ],
    )


def _check_fields(body: FileIn) -> None:
    if body.changes and body.type != "rectification":
        raise ValidationFailed("changes are given only with a rectification request")
    if body.type == "rectification" and not body.changes:
        raise ValidationFailed("a rectification request needs the changes (field -> value)")
    if body.purposes and body.type not in ("restriction", "objection"):
        raise ValidationFailed("purposes are given only with a restriction or objection request")


@router.post(
    "/requests", response_model=RequestDetailOut, status_code=201, operation_id="file_dsar"
)
def file_request(body: FileIn, session: DbSession, caller: Filer) -> RequestDetailOut:
    """File a request on a customer's behalf (channel ``api`` for a service, else ``officer``)."""
    _check_fields(body)
    request = service.file_request(
        session,
        type=body.type,
        subject=SubjectRef(body.subject, body.email),
        channel="api" if caller.kind == "service" else "officer",
        actor=caller.name,
        identity_verified=body.identity_verified,
        changes=body.changes,
        purposes=body.purposes,
        note=body.note,
    )
    return _detail(session, request, caller)


@router.get("/requests", response_model=RequestsOut, operation_id="list_dsars")
def list_requests(
    session: DbSession,
    caller: Reader,
    state: Annotated[str | None, Query(max_length=30)] = None,
    type: Annotated[str | None, Query(max_length=20)] = None,
    subject: Annotated[str | None, Query(min_length=1, max_length=320)] = None,
    overdue: Annotated[bool, Query()] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> RequestsOut:
    """Requests, newest first; ``overdue=true``: open ones past their (extended) deadline."""
    if state is not None and state not in STATES:
        raise ValidationFailed(f"state is one of {', '.join(STATES)}")
    if type is not None and type not in REQUEST_TYPES:
        raise ValidationFailed(f"type is one of {', '.join(REQUEST_TYPES)}")
    query = select(DsarRequest)
    actor = _filed_by(caller)
    if actor is not None:
        query = query.where(_filed_by_clause(actor))
    if state is not None:
        query = query.where(DsarRequest.state == state)
    if type is not None:
        query = query.where(DsarRequest.type == type)
    if subject is not None:
        query = query.where(DsarRequest.subject == subject)
    if overdue:
        now = utcnow()
        query = query.where(
            DsarRequest.state.in_(sorted(OPEN_STATES)),
            ((DsarRequest.extended_due_at.is_not(None)) & (DsarRequest.extended_due_at < now))
            | ((DsarRequest.extended_due_at.is_(None)) & (DsarRequest.due_at < now)),
        )
    rows = session.scalars(
        query.order_by(DsarRequest.received_at.desc(), DsarRequest.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return RequestsOut(requests=[_request_out(r, caller) for r in rows], limit=limit, offset=offset)


@router.get("/requests/{request_id}", response_model=RequestDetailOut, operation_id="read_dsar")
def read_request(request_id: UUID, session: DbSession, caller: Reader) -> RequestDetailOut:
    """A request with its history and each connector's outcome."""
    return _detail(session, _visible(session, request_id, caller), caller)


@router.post(
    "/requests/{request_id}/verify-identity",
    response_model=RequestDetailOut,
    operation_id="verify_dsar_identity",
)
def verify_identity(request_id: UUID, session: DbSession, caller: Verifier) -> RequestDetailOut:
    """The officer has verified the subject's identity."""
    request = decisions.verify_identity(session, request_id, actor=caller.name)
    return _detail(session, request, caller)


@router.post(
    "/requests/{request_id}/request-information",
    response_model=RequestDetailOut,
    operation_id="request_dsar_information",
)
def request_information(
    request_id: UUID, body: ReasonIn, session: DbSession, caller: Inquirer
) -> RequestDetailOut:
    """Art. 12(6): ask the subject for what confirms their identity; the clock pauses."""
    request = service.request_information(
        session, request_id, actor=caller.name, reason=body.reason
    )
    return _detail(session, request, caller)


@router.post(
    "/requests/{request_id}/approve", response_model=RequestDetailOut, operation_id="approve_dsar"
)
def approve(request_id: UUID, session: DbSession, caller: Approver) -> RequestDetailOut:
    """Approve an erasure or rectification awaiting approval (the job then fulfils it)."""
    return _detail(session, decisions.approve(session, request_id, actor=caller.name), caller)


@router.post(
    "/requests/{request_id}/reject", response_model=RequestDetailOut, operation_id="reject_dsar"
)
def reject(
    request_id: UUID, body: ReasonIn, session: DbSession, caller: Rejecter
) -> RequestDetailOut:
    """Decline, with the reason; the subject is told of the right to complain (Art. 12(4))."""
    request = decisions.reject(session, request_id, actor=caller.name, reason=body.reason)
    return _detail(session, request, caller)


@router.post(
    "/requests/{request_id}/extend", response_model=RequestDetailOut, operation_id="extend_dsar"
)
def extend(
    request_id: UUID, body: ExtendIn, session: DbSession, caller: Extender
) -> RequestDetailOut:
    """Art. 12(3): one or two further months, during the first month, the subject notified."""
    request = decisions.extend(
        session, request_id, actor=caller.name, months=body.months, reason=body.reason
    )
    return _detail(session, request, caller)


@router.post(
    "/requests/{request_id}/process", response_model=RequestDetailOut, operation_id="process_dsar"
)
def process(request_id: UUID, caller: Processor) -> RequestDetailOut:
    """Fulfil now instead of waiting for the job: a verified request is started (erasure and
    rectification then await approval), an in-progress one runs every connector that has not
    answered yet. The same code path as ``gdpr.process_due``; each step commits on its own."""
    with unit_of_work() as session:
        request = service.get_request(session, request_id)
        if request.state == "verified":
            decisions.start(session, request_id, actor=caller.name)
        elif request.state == "awaiting_approval":
            raise Conflict("the request awaits an officer's approval")
        elif request.state != "in_progress":
            raise Conflict(f"a {request.state} request cannot be processed")
    workflow.process_request(request_id, actor=caller.name)
    with unit_of_work(read_only=True) as session:
        return _detail(session, service.get_request(session, request_id), caller)


@router.get(
    "/requests/{request_id}/certificate",
    response_model=CertificateOut,
    operation_id="read_dsar_certificate",
)
def certificate(request_id: UUID, session: DbSession, caller: CertificateReader) -> CertificateOut:
    """The signed completion certificate's three files (base64), to verify with openssl alone."""
    files = service.certificate_of(session, request_id, subject=None)
    return CertificateOut(
        request_id=str(request_id),
        certificate_json=base64.b64encode(files.certificate_json).decode(),
        certificate_sig=base64.b64encode(files.signature).decode(),
        public_key_pem=base64.b64encode(files.public_key_pem).decode(),
        verify_command=VERIFY_COMMAND,
    )


@router.get(
    "/requests/{request_id}/package",
    response_class=Response,
    operation_id="export_dsar_package",
    responses={
        200: {
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The access/portability package (zip).",
        }
    },
)
def package(request_id: UUID, session: DbSession, caller: PackageExporter) -> Response:
    """The officer's copy of an access/portability package (audited: ``dsar.package.exported``)."""
    service.get_request(session, request_id)
    download = service.read_package(session, request_id)
    record_event(
        session,
        event_type="dsar.package.exported",
        resource=f"dsar/{request_id}",
        details={"request_id": str(request_id), "sha256": download.sha256},
    )
    return Response(
        download.content,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{download.filename}"',
            "X-Rampart-Package-Sha256": download.sha256,
        },
    )
