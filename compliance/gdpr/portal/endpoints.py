"""/privacy: the customers' privacy portal (server-rendered, CSRF-protected forms, POST only
for changes). Sign in with a Rampart login (/login) or an e-mailed code; every page then shows
only the caller's own requests (compliance.gdpr.service.request_of_subject: another's is 404).

Requests filed here are identity-verified (channel ``portal``): the caller proved the login or
the mailbox; the officer can still ask for more (Art. 12(6))."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, get_args
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy.orm import Session

from compliance.gdpr import service
from compliance.gdpr.connectors.base import RequestType, SubjectRef
from compliance.gdpr.consent import consent_purposes
from compliance.gdpr.exceptions import LinkRefused, RequestNotFound
from compliance.gdpr.models import DsarCertificate, DsarEvent, DsarPackage, DsarRequest
from compliance.gdpr.portal import codes
from compliance.gdpr.portal.rendering import (
    HOME,
    SIGN_IN,
    STATIC,
    portal_page,
    render,
    safe_portal_next,
)
from compliance.gdpr.portal.sessions import (
    PORTAL_SUBJECT_PREFIX,
    data_subject_of,
    end_portal_session,
    load_portal_session,
    start_portal_session,
)
from compliance.gdpr.states import OPEN_STATES, TRANSITIONS
from core.authz import Principal
from core.errors import NotFound
from core.http import DbSession
from core.strict_json import StrictJsonRoute
from iam.accounts.service import get_user
from iam.pages.rendering import PAGE_ROUTES, PAGES_CSP, redirect
from iam.sessions import service as sessions

# Refusals are the page again (HTML) or problem+json, and successes may be a 303 (OpenAPI).
router = APIRouter(
    prefix="/privacy",
    tags=["privacy portal"],
    route_class=StrictJsonRoute,
    responses=PAGE_ROUTES["responses"],
)

CSP_BY_PREFIX: tuple[tuple[str, str], ...] = (("/privacy", PAGES_CSP),)

CSRF_MESSAGE = "Your session expired or the form was stale. Please try again."
INVALID_EMAIL = "Enter an e-mail address such as name@example.com."
THROTTLED = "Too many attempts. Please wait an hour and try again."
CODE_REFUSED = "That code is not valid. Check the latest e-mail or ask for a new code."
NO_CHANGES = "Name at least one piece of data and its correct value."
NOT_CONFIRMED = "Tick the box to confirm that you want your data deleted."
NO_PURPOSE = "Choose at least one use of your data."
LINK_USED = "That download link was already used or has expired. Ask for a new one."
CACHE = {"cache-control": "public, max-age=3600"}
RECTIFICATION_ROWS = 3
CERTIFICATE_FILES = {
    "certificate.json": ("certificate_json", "application/json"),
    "certificate.sig": ("signature", "application/octet-stream"),
    "public-key.pem": ("public_key_pem", "application/x-pem-file"),
}

CertificateName = Literal["certificate.json", "certificate.sig", "public-key.pem"]
RIGHTS: dict[str, tuple[str, str]] = {
    "access": ("Get a copy of my data", "Article 15: a copy of your data and how it is used."),
    "rectification": ("Correct my data", "Article 16: correct data that is wrong."),
    "erasure": ("Delete my data", "Article 17: erase your data, except what law makes us keep."),
    "restriction": ("Restrict use of my data", "Article 18: limit how we use your data."),
    "portability": ("Take my data elsewhere", "Article 20: your data as JSON and CSV files."),
    "objection": ("Object to a use of my data", "Article 21: object to uses such as marketing."),
}
STATE_WORDS = {
    "received": "Received",
    "identity_pending": "We need to confirm who you are",
    "verified": "Confirmed, waiting to start",
    "information_requested": "We need more information from you",
    "in_progress": "We are working on it",
    "awaiting_approval": "Waiting for our data protection officer",
    "completed": "Done",
    "rejected": "Declined",
    "withdrawn": "Withdrawn by you",
}
EVENT_WORDS = {
    "received": "We received your request.",
    "identity_pending": "We asked to confirm who you are.",
    "verified": "Your identity is confirmed.",
    "information_requested": "We asked you for more information.",
    "in_progress": "We started working on your request.",
    "awaiting_approval": "Your request waits for our data protection officer's approval.",
    "completed": "Your request is complete.",
    "rejected": "We declined your request.",
    "withdrawn": "You withdrew your request.",
}

Reader = Annotated[Principal, portal_page("read")]
Filer = Annotated[Principal, portal_page("request")]
Withdrawer = Annotated[Principal, portal_page("withdraw")]
Answerer = Annotated[Principal, portal_page("answer")]
Downloader = Annotated[Principal, portal_page("download")]


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _subject_ref(db: Session, request: Request, principal: Principal) -> SubjectRef:
    subject = data_subject_of(principal)
    if principal.subject.startswith(PORTAL_SUBJECT_PREFIX):
        row = load_portal_session(db, request)
        return SubjectRef(subject=subject, email=row.email if row is not None else None)
    user = get_user(db, UUID(subject))
    return SubjectRef(subject=subject, email=user.email if user is not None else None)


def _sign_in_page(
    db: Session, request: Request, next_url: str, *, status: int = 200, **extra: Any
) -> HTMLResponse:
    login_url = "/login?next=" + quote(next_url, safe="")
    return render(
        db, request, "privacy_sign_in.html", status=status, title="Your privacy requests",
        next=next_url, login_url=login_url, **extra,
    )  # fmt: skip


# -- signing in ---------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse, summary="Privacy portal: sign in")
def sign_in(db: DbSession, request: Request, next: str | None = None) -> Response:
    return _sign_in_page(db, request, safe_portal_next(next))


@router.post(
    "/sign-in/email", response_class=HTMLResponse, summary="Privacy portal: mail a sign-in code"
)
def sign_in_email(
    db: DbSession,
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    next_url = safe_portal_next(next)
    if not sessions.csrf_valid(db, request, csrf_token):
        return _sign_in_page(db, request, next_url, status=403, error=CSRF_MESSAGE, email=email)
    outcome = codes.request_code(db, email, client_address=_client(request))
    if outcome == "invalid":
        return _sign_in_page(db, request, next_url, status=422, error=INVALID_EMAIL, email=email)
    if outcome == "throttled":
        return _sign_in_page(db, request, next_url, status=429, error=THROTTLED, email=email)
    return render(
        db, request, "privacy_code.html", title="Enter your code", next=next_url,
        email=email.strip().lower(),
    )  # fmt: skip


@router.post(
    "/sign-in/code", response_class=HTMLResponse, summary="Privacy portal: sign in with the code"
)
def sign_in_code(
    db: DbSession,
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    code: Annotated[str, Form(max_length=32)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    next_url = safe_portal_next(next)

    def again(status: int, error: str) -> Response:
        return render(
            db, request, "privacy_code.html", status=status, title="Enter your code",
            next=next_url, email=email, error=error,
        )  # fmt: skip

    if not sessions.csrf_valid(db, request, csrf_token):
        return again(403, CSRF_MESSAGE)
    verified = codes.verify_code(db, email, code, client_address=_client(request))
    if verified == "throttled":
        return again(429, THROTTLED)
    if verified == "refused":
        return again(401, CODE_REFUSED)
    response = redirect(next_url)
    start_portal_session(db, response, subject=verified.subject, email=verified.email)
    return response


@router.post("/sign-out", response_class=HTMLResponse, summary="Privacy portal: sign out")
def sign_out(
    db: DbSession,
    request: Request,
    _caller: Reader,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if not sessions.csrf_valid(db, request, csrf_token):
        return render(db, request, "privacy_error.html", status=403, title="Sign out",
                      error=CSRF_MESSAGE)  # fmt: skip
    response = redirect(SIGN_IN)
    end_portal_session(db, request, response)
    return response


# -- requests -----------------------------------------------------------------------------------


def _due(request: DsarRequest) -> str:
    return (request.extended_due_at or request.due_at).date().isoformat()


def _row(request: DsarRequest) -> dict[str, Any]:
    return {
        "id": str(request.id),
        "right": RIGHTS[request.type][0],
        "type": request.type,
        "state": STATE_WORDS.get(request.state, request.state),
        "received": request.received_at.date().isoformat(),
        "due": _due(request) if request.state in OPEN_STATES else None,
        "open": request.state in OPEN_STATES,
    }


def _history(events: list[DsarEvent]) -> list[dict[str, str]]:
    lines = []
    for event in events:
        if event.from_state == event.to_state:
            text = "We extended the deadline."
        else:
            text = EVENT_WORDS.get(event.to_state, event.to_state)
        shown = event.to_state in ("information_requested", "rejected")
        if event.reason and (shown or event.from_state == event.to_state):
            text = f"{text} {event.reason}"
        lines.append({"at": event.at.strftime("%Y-%m-%d %H:%M UTC"), "text": text})
    return lines


@router.get("/requests", response_class=HTMLResponse, summary="Privacy portal: my requests")
def my_requests(db: DbSession, request: Request, caller: Reader) -> Response:
    rows = [_row(r) for r in service.requests_of_subject(db, data_subject_of(caller))]
    return render(
        db, request, "privacy_requests.html", title="Your privacy requests", requests=rows,
        rights=RIGHTS, portal_session=caller.subject.startswith(PORTAL_SUBJECT_PREFIX),
    )  # fmt: skip


def _new_page(
    db: Session, request: Request, type_: str, *, status: int = 200, **extra: Any
) -> HTMLResponse:
    purposes = consent_purposes(db) if type_ in ("restriction", "objection") else []
    title, explanation = RIGHTS[type_]
    return render(
        db, request, "privacy_new.html", status=status, title=title, explanation=explanation,
        type=type_, purposes=purposes, rows=range(1, RECTIFICATION_ROWS + 1), **extra,
    )  # fmt: skip


@router.get(
    "/requests/new/{type}", response_class=HTMLResponse, summary="Privacy portal: new request"
)
def new_request(db: DbSession, request: Request, type: str, _caller: Reader) -> Response:
    if type not in RIGHTS:
        raise NotFound("no such kind of request")
    return _new_page(db, request, type)


@router.post("/requests", response_class=HTMLResponse, summary="Privacy portal: file a request")
def file_request(
    db: DbSession,
    request: Request,
    caller: Filer,
    type: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    field: Annotated[list[str] | None, Form(max_length=100)] = None,
    value: Annotated[list[str] | None, Form(max_length=2000)] = None,
    purpose: Annotated[list[str] | None, Form(max_length=100)] = None,
    confirm: Annotated[str, Form(max_length=10)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    if type not in RIGHTS:
        raise NotFound("no such kind of request")
    if not sessions.csrf_valid(db, request, csrf_token):
        return _new_page(db, request, type, status=403, error=CSRF_MESSAGE)
    changes: dict[str, str] = {}
    if type == "rectification":
        for name, new in zip(field or [], value or [], strict=False):
            if name.strip():
                changes[name.strip()] = new.strip()
        if not changes:
            return _new_page(db, request, type, status=422, error=NO_CHANGES)
    if type == "erasure" and confirm != "yes":
        return _new_page(db, request, type, status=422, error=NOT_CONFIRMED)
    chosen: list[str] = []
    if type in ("restriction", "objection"):
        known = {p.key for p in consent_purposes(db)}
        chosen = [p for p in purpose or [] if p in known]
        if not chosen:
            return _new_page(db, request, type, status=422, error=NO_PURPOSE)
    assert type in get_args(RequestType)  # noqa: S101 - RIGHTS holds exactly the six
    filed = service.file_request(
        db,
        type=type,  # type: ignore[arg-type]
        subject=_subject_ref(db, request, caller),
        channel="portal",
        actor=caller.actor,
        identity_verified=True,
        changes=changes or None,
        purposes=chosen,
        note=note.strip() or None,
    )
    return redirect(f"/privacy/requests/{filed.id}")


def _own(db: Session, request_id: str, caller: Principal) -> DsarRequest:
    try:
        uuid = UUID(request_id)
    except ValueError:
        raise RequestNotFound() from None
    return service.request_of_subject(db, uuid, data_subject_of(caller))


def _detail_page(
    db: Session, request: Request, dsar: DsarRequest, *, status: int = 200, **extra: Any
) -> HTMLResponse:
    events = list(service.request_history(db, dsar.id))
    asked = next(
        (e.reason for e in reversed(events) if e.to_state == "information_requested"), None
    )
    has_package = db.get(DsarPackage, dsar.id) is not None
    has_certificate = db.get(DsarCertificate, dsar.id) is not None
    return render(
        db, request, "privacy_request.html", status=status, title=RIGHTS[dsar.type][0],
        dsar=_row(dsar), history=_history(events), asked=asked,
        can_withdraw="withdrawn" in _allowed(dsar.state),
        can_answer=dsar.state == "information_requested",
        rejection=dsar.rejection_reason, has_package=has_package,
        has_certificate=has_certificate, purposes=json.loads(dsar.purposes or "[]"),
        certificate_files=list(CERTIFICATE_FILES), **extra,
    )  # fmt: skip


def _allowed(state: str) -> frozenset[str]:
    return TRANSITIONS.get(state, frozenset())


@router.get(
    "/requests/{request_id}", response_class=HTMLResponse, summary="Privacy portal: a request"
)
def request_detail(db: DbSession, request: Request, request_id: str, caller: Reader) -> Response:
    return _detail_page(db, request, _own(db, request_id, caller))


@router.post(
    "/requests/{request_id}/withdraw",
    response_class=HTMLResponse,
    summary="Privacy portal: withdraw a request",
)
def withdraw(
    db: DbSession,
    request: Request,
    request_id: str,
    caller: Withdrawer,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    dsar = _own(db, request_id, caller)
    if not sessions.csrf_valid(db, request, csrf_token):
        return _detail_page(db, request, dsar, status=403, error=CSRF_MESSAGE)
    service.withdraw_request(db, dsar.id, subject=data_subject_of(caller), actor=caller.actor)
    return redirect(f"/privacy/requests/{dsar.id}")


@router.post(
    "/requests/{request_id}/answer",
    response_class=HTMLResponse,
    summary="Privacy portal: answer a request for information (Art. 12(6))",
)
def answer(
    db: DbSession,
    request: Request,
    request_id: str,
    caller: Answerer,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    answer: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    dsar = _own(db, request_id, caller)
    if not sessions.csrf_valid(db, request, csrf_token):
        return _detail_page(db, request, dsar, status=403, error=CSRF_MESSAGE)
    if not answer.strip():
        return _detail_page(db, request, dsar, status=422, error="Write your answer first.")
    service.answer_information_request(
        db, dsar.id, subject=data_subject_of(caller), answer=answer.strip(), actor=caller.actor
    )
    return redirect(f"/privacy/requests/{dsar.id}")


@router.post(
    "/requests/{request_id}/package-link",
    response_class=HTMLResponse,
    summary="Privacy portal: a single-use download link for the package",
)
def package_link(
    db: DbSession,
    request: Request,
    request_id: str,
    caller: Downloader,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    dsar = _own(db, request_id, caller)
    if not sessions.csrf_valid(db, request, csrf_token):
        return _detail_page(db, request, dsar, status=403, error=CSRF_MESSAGE)
    token = service.issue_package_link(db, dsar.id, subject=data_subject_of(caller))
    return redirect(f"/privacy/requests/{dsar.id}/package/{token}")


@router.get(
    "/requests/{request_id}/package/{token}",
    response_class=Response,
    summary="Privacy portal: download the package (the link works once)",
)
def package_download(
    db: DbSession, request: Request, request_id: str, token: str, caller: Downloader
) -> Response:
    dsar = _own(db, request_id, caller)
    try:
        package = service.redeem_package_link(
            db, dsar.id, subject=data_subject_of(caller), token=token
        )
    except LinkRefused:
        return _detail_page(
            db, request, dsar, status=410,
            error=LINK_USED,
        )  # fmt: skip
    return Response(
        package.content,
        media_type="application/zip",
        headers={
            "content-disposition": f'attachment; filename="{package.filename}"',
            "cache-control": "no-store",
        },
    )


@router.get(
    "/requests/{request_id}/certificate/{name}",
    response_class=Response,
    summary="Privacy portal: download a file of the signed completion certificate",
)
def certificate_file(
    db: DbSession, request_id: str, name: CertificateName, caller: Downloader
) -> Response:
    dsar = _own(db, request_id, caller)
    files = service.certificate_of(db, dsar.id, subject=data_subject_of(caller))
    attribute, media_type = CERTIFICATE_FILES[name]
    return Response(
        getattr(files, attribute),
        media_type=media_type,
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


@router.get("/assets/portal.css", response_class=FileResponse, summary="Privacy portal: styles")
def stylesheet() -> Response:
    return FileResponse(STATIC / "portal.css", media_type="text/css", headers=CACHE)


__all__ = ["CSP_BY_PREFIX", "HOME", "router"]
