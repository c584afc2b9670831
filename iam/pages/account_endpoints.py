"""The account page and its security settings: TOTP enrolment (forced when a role requires MFA),
recovery codes, WebAuthn key registration."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Header, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from core.http import DbSession
from core.strict_json import StrictJsonRoute
from iam.accounts.models import User
from iam.accounts.service import get_user
from iam.mfa import recovery, totp, webauthn
from iam.mfa import service as mfa
from iam.mfa.exceptions import EnrolmentExpired, InvalidCode, WebAuthnFailed
from iam.pages.login_endpoints import CSRF_MESSAGE
from iam.pages.rendering import JSON_ROUTE, PAGE_ROUTES, page, redirect, safe_next
from iam.sessions import service as sessions
from iam.sessions.models import LoginSession

router = APIRouter(route_class=StrictJsonRoute, **PAGE_ROUTES)

ENROLMENT_STATES = ("enrolment_required", "authenticated")


def _login_redirect(next_url: str) -> Response:
    return redirect(f"/login?next={quote(next_url, safe='')}")


def _enrolling(db: Session, request: Request) -> tuple[LoginSession, User] | None:
    """The session and user allowed to enrol: logged in, or past the password with enrolment
    demanded by a role."""
    row = sessions.load_session(db, request)
    if row is None or row.state not in ENROLMENT_STATES:
        return None
    user = get_user(db, row.user_id)
    if user is None or user.status != "active":
        return None
    return row, user


def _group(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _enrol_page(
    db: Session,
    request: Request,
    enrolment: totp.TotpEnrolment,
    next_url: str,
    *,
    forced: bool,
    status: int = 200,
    error: str | None = None,
) -> Response:
    return page(
        db, request, "totp_enrol.html", status=status, title="Set up your authenticator app",
        enrolment=enrolment, secret_grouped=_group(enrolment.secret), next=next_url,
        forced=forced, error=error,
    )  # fmt: skip


@router.get("/account")
def account(db: DbSession, request: Request) -> Response:
    login = sessions.current_login(db, request)
    if login is None:
        return _login_redirect("/account")
    user = get_user(db, login.user_id)
    assert user is not None  # noqa: S101 - current_login checked the user exists
    return _account_page(db, request, user, login)


def _account_page(
    db: Session, request: Request, user: User, login: sessions.LoginState, **extra: Any
) -> Response:
    methods = mfa.mfa_methods(db, user.id)
    return page(
        db, request, "account.html", title="Your account", user=user, login=login,
        has_totp="totp" in methods, keys=webauthn.credentials_of(db, user.id),
        recovery_left=recovery.remaining_recovery_codes(db, user.id), **extra,
    )  # fmt: skip


@router.get("/account/totp")
def totp_form(db: DbSession, request: Request, next: str | None = None) -> Response:
    next_url = safe_next(next)
    enrolling = _enrolling(db, request)
    if enrolling is None:
        return _login_redirect(f"/account/totp?next={quote(next_url, safe='')}")
    row, user = enrolling
    enrolment = totp.begin_enrolment(db, user, row.id)
    return _enrol_page(db, request, enrolment, next_url, forced=row.state == "enrolment_required")


@router.post("/account/totp")
def totp_confirm(
    db: DbSession,
    request: Request,
    code: Annotated[str, Form(max_length=64)] = "",
    enrolment: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    next_url = safe_next(next)
    enrolling = _enrolling(db, request)
    if enrolling is None:
        return _login_redirect(f"/account/totp?next={quote(next_url, safe='')}")
    row, user = enrolling
    forced = row.state == "enrolment_required"
    if not sessions.csrf_valid(db, request, csrf_token):
        fresh = totp.begin_enrolment(db, user, row.id)
        return _enrol_page(
            db, request, fresh, next_url, forced=forced, status=403, error=CSRF_MESSAGE
        )
    try:
        totp.confirm_enrolment(db, user, row.id, enrolment, code)
    except EnrolmentExpired:
        fresh = totp.begin_enrolment(db, user, row.id)
        return _enrol_page(
            db, request, fresh, next_url, forced=forced, status=422,
            error="This set-up expired. Scan the new code and try again.",
        )  # fmt: skip
    except InvalidCode:
        same = totp.reopen_enrolment(db, user, row.id, enrolment)
        return _enrol_page(
            db, request, same, next_url, forced=forced, status=422,
            error="That code is not valid. Enter the 6-digit code your app shows now.",
        )  # fmt: skip
    codes = recovery.generate_recovery_codes(db, user.id)
    if forced:
        # The confirmed code proved the new factor: the login is now complete, token rotated.
        sessions.advance_session(db, request, Response(), row, add_amr="otp")
    return page(
        db, request, "recovery_codes.html", title="Save your recovery codes", codes=codes,
        next=next_url,
    )  # fmt: skip


@router.post("/account/recovery-codes")
def recovery_codes_regenerate(
    db: DbSession,
    request: Request,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    login = sessions.current_login(db, request)
    if login is None:
        return _login_redirect("/account")
    user = get_user(db, login.user_id)
    assert user is not None  # noqa: S101 - current_login checked the user exists
    if not sessions.csrf_valid(db, request, csrf_token):
        return _account_page(db, request, user, login, error=CSRF_MESSAGE)
    if not mfa.mfa_methods(db, user.id):
        return _account_page(
            db, request, user, login, error="Set up a second factor before recovery codes."
        )
    codes = recovery.generate_recovery_codes(db, user.id)
    return page(
        db, request, "recovery_codes.html", title="Save your recovery codes", codes=codes,
        next="/account",
    )  # fmt: skip


@router.post("/account/webauthn/options", **JSON_ROUTE)
def webauthn_registration_options(
    db: DbSession,
    request: Request,
    x_csrf_token: Annotated[str | None, Header()] = None,
) -> Response:
    enrolling = _enrolling(db, request)
    if enrolling is None or not sessions.csrf_valid(db, request, x_csrf_token):
        return JSONResponse({"error": "log in first"}, status_code=403)
    row, user = enrolling
    return Response(webauthn.registration_options(db, row, user), media_type="application/json")


@router.post("/account/webauthn/verify", **JSON_ROUTE)
def webauthn_registration_verify(
    db: DbSession,
    request: Request,
    body: dict[str, Any],
    x_csrf_token: Annotated[str | None, Header()] = None,
) -> Response:
    enrolling = _enrolling(db, request)
    if enrolling is None or not sessions.csrf_valid(db, request, x_csrf_token):
        return JSONResponse({"error": "log in first"}, status_code=403)
    row, user = enrolling
    credential = body.get("credential")
    if not isinstance(credential, dict):
        return JSONResponse({"error": "credential missing"}, status_code=422)
    try:
        webauthn.verify_registration(db, row, user, credential, str(body.get("label") or ""))
    except WebAuthnFailed:
        return JSONResponse({"error": "the security key could not be registered"}, status_code=422)
    response = JSONResponse({"redirect": safe_next(str(body.get("next") or ""))})
    if row.state == "enrolment_required":
        sessions.advance_session(db, request, response, row, add_amr="hwk")
    return response
