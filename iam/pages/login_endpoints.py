"""Login, second-factor and logout pages (server-rendered; WebAuthn adds two JSON endpoints)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Header, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.database import unit_of_work
from core.http import DbSession
from core.strict_json import StrictJsonRoute
from iam.accounts import authentication
from iam.accounts.exceptions import INVALID_CREDENTIALS_MESSAGE
from iam.accounts.models import User
from iam.accounts.service import get_user, roles_require_mfa
from iam.mfa import service as mfa
from iam.mfa import webauthn
from iam.mfa.exceptions import WebAuthnFailed
from iam.pages.rendering import JSON_ROUTE, PAGE_ROUTES, page, redirect, safe_next
from iam.sessions import service as sessions
from iam.sessions.models import LoginSession

router = APIRouter(route_class=StrictJsonRoute, **PAGE_ROUTES)

CSRF_MESSAGE = "Your session expired or the form was stale. Please try again."
CODE_MESSAGE = "That code is not valid. Try the current code from your app."


def _with_next(path: str, next_url: str) -> str:
    return f"{path}?next={quote(next_url, safe='')}"


@router.get("/login")
def login_form(db: DbSession, request: Request, next: str | None = None) -> Response:
    next_url = safe_next(next)
    return page(db, request, "login.html", title="Log in", next=next_url, email="")


@router.post("/login")
def login_submit(
    db: DbSession,
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    next_url = safe_next(next)
    client = request.client.host if request.client else None
    # Reads (CSRF key, throttle, account) run in their own short transaction and the argon2
    # verification after it: the ~20 ms of hashing never holds the request's write transaction
    # (on SQLite: a lock on the whole database) open.
    with unit_of_work() as read_db:
        csrf_ok = sessions.csrf_valid(read_db, request, csrf_token)
        attempt = (
            authentication.prepare_login(read_db, email, client_address=client) if csrf_ok else None
        )
    if attempt is None:
        return page(
            db, request, "login.html", status=403, title="Log in", next=next_url,
            email=email, error=CSRF_MESSAGE,
        )  # fmt: skip
    password_ok = authentication.check_password(attempt, password)
    user = authentication.settle_login(db, attempt, password_ok, password)
    if user is None:
        return page(
            db, request, "login.html", status=401, title="Log in", next=next_url,
            email=email, error=INVALID_CREDENTIALS_MESSAGE,
        )  # fmt: skip
    methods = mfa.mfa_methods(db, user.id)
    if methods:
        response = redirect(_with_next("/login/mfa", next_url))
        sessions.start_session(db, request, response, user, state="mfa_required", amr=["pwd"])
    elif roles_require_mfa(user):
        response = redirect(_with_next("/account/totp", next_url))
        sessions.start_session(db, request, response, user, state="enrolment_required", amr=["pwd"])
    else:
        response = redirect(next_url)
        sessions.start_session(db, request, response, user, state="authenticated", amr=["pwd"])
    return response


def _pending_mfa(db: Session, request: Request) -> tuple[LoginSession, User] | None:
    row = sessions.load_session(db, request)
    if row is None or row.state != "mfa_required":
        return None
    user = get_user(db, row.user_id)
    if user is None or user.status != "active":
        return None
    return row, user


def _mfa_page(
    db: Session, request: Request, user: User, next_url: str, status: int = 200, **extra: Any
) -> Response:
    methods = mfa.mfa_methods(db, user.id)
    return page(
        db, request, "mfa.html", status=status, title="Second step", next=next_url,
        has_totp="totp" in methods, has_webauthn="webauthn" in methods, **extra,
    )  # fmt: skip


@router.get("/login/mfa")
def mfa_form(db: DbSession, request: Request, next: str | None = None) -> Response:
    next_url = safe_next(next)
    pending = _pending_mfa(db, request)
    if pending is None:
        if sessions.current_login(db, request) is not None:
            return redirect(next_url)
        return redirect(_with_next("/login", next_url))
    return _mfa_page(db, request, pending[1], next_url)


@router.post("/login/mfa")
def mfa_submit(
    db: DbSession,
    request: Request,
    code: Annotated[str, Form(max_length=64)] = "",
    method: Annotated[str, Form(max_length=20)] = "totp",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    next_url = safe_next(next)
    pending = _pending_mfa(db, request)
    if pending is None:
        return redirect(_with_next("/login", next_url))
    row, user = pending
    if not sessions.csrf_valid(db, request, csrf_token):
        return _mfa_page(db, request, user, next_url, status=403, error=CSRF_MESSAGE)
    if method not in ("totp", "recovery") or not mfa.verify_code(db, user.id, method, code):
        if authentication.register_failed_second_factor(db, user):
            row.ended_at = utcnow()  # a lock ends the half-done login too
            db.flush()
            return redirect(_with_next("/login", next_url))
        return _mfa_page(db, request, user, next_url, status=401, error=CODE_MESSAGE)
    authentication.clear_failed_logins(db, user)
    response = redirect(next_url)
    sessions.advance_session(db, request, response, row, add_amr=mfa.AMR_BY_METHOD[method])
    return response


def _json_csrf_ok(db: Session, request: Request, header: str | None) -> bool:
    return sessions.csrf_valid(db, request, header)


@router.post("/login/mfa/webauthn/options", **JSON_ROUTE)
def mfa_webauthn_options(
    db: DbSession,
    request: Request,
    x_csrf_token: Annotated[str | None, Header()] = None,
) -> Response:
    pending = _pending_mfa(db, request)
    if pending is None or not _json_csrf_ok(db, request, x_csrf_token):
        return JSONResponse({"error": "no login in progress"}, status_code=403)
    row, user = pending
    options = webauthn.authentication_options(db, row, user)
    return Response(options, media_type="application/json")


@router.post("/login/mfa/webauthn/verify", **JSON_ROUTE)
def mfa_webauthn_verify(
    db: DbSession,
    request: Request,
    body: dict[str, Any],
    x_csrf_token: Annotated[str | None, Header()] = None,
) -> Response:
    pending = _pending_mfa(db, request)
    if pending is None or not _json_csrf_ok(db, request, x_csrf_token):
        return JSONResponse({"error": "no login in progress"}, status_code=403)
    row, user = pending
    next_url = safe_next(str(body.get("next") or ""))
    credential = body.get("credential")
    try:
        ok = isinstance(credential, dict) and webauthn.verify_authentication(
            db, row, user, credential
        )
    except WebAuthnFailed:
        ok = False
    mfa.audit_verification(db, user.id, "webauthn", ok)
    if not ok:
        authentication.register_failed_second_factor(db, user)
        return JSONResponse({"error": "the security key could not be verified"}, status_code=401)
    authentication.clear_failed_logins(db, user)
    response = JSONResponse({"redirect": next_url})
    sessions.advance_session(db, request, response, row, add_amr="hwk")
    return response


@router.get("/logout")
def logout_form(db: DbSession, request: Request) -> Response:
    logged_in = sessions.load_session(db, request) is not None
    return page(db, request, "logout.html", title="Log out", logged_in=logged_in, done=False)


@router.post("/logout")
def logout_submit(
    db: DbSession,
    request: Request,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if not sessions.csrf_valid(db, request, csrf_token):
        logged_in = sessions.load_session(db, request) is not None
        return page(
            db, request, "logout.html", status=403, title="Log out", logged_in=logged_in,
            done=False, error=CSRF_MESSAGE,
        )  # fmt: skip
    response = page(db, request, "logout.html", title="Logged out", logged_in=False, done=True)
    sessions.end_login(db, request, response)
    return response
