"""The RFC 8628 verification page: a logged-in person types (or follows a link with) the user
code their CLI shows, sees which client asks for what, and approves or denies. The approval
keeps how they logged in (amr, acr, auth_time, session), so the CLI's token carries their MFA.
Wrong codes are counted per account (audited) and refused beyond a few per window. An account
with a second factor, or a role that demands one, approves only from a login that used it."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from core.audit.service import record_event
from core.clock import utcnow
from core.http import DbSession
from core.strict_json import StrictJsonRoute
from iam.accounts import throttling
from iam.accounts.service import get_user, roles_require_mfa
from iam.mfa import service as mfa
from iam.oauth2 import service as oauth_clients
from iam.oauth2.grants.device_code import DEVICE_PATH, find_pending_by_user_code
from iam.oauth2.models import DeviceAuthorization
from iam.pages.login_endpoints import CSRF_MESSAGE
from iam.pages.rendering import PAGE_ROUTES, page, redirect
from iam.sessions import service as sessions
from iam.sessions.service import ACR_MFA, LoginState

router = APIRouter(route_class=StrictJsonRoute, **PAGE_ROUTES)

TITLE = "Connect a device"
# Says nothing about whether the code exists, was used, expired or belongs to someone else.
BAD_CODE_MESSAGE = "That code is not valid or has expired. Check your device and try again."
TOO_MANY_MESSAGE = "Too many wrong codes. Wait a few minutes, then start again on your device."
MFA_MESSAGE = (
    "Connecting a device needs a login with your second factor. "
    "Log out, log in again with it, then enter the code."
)
WRONG_CODE_EVENT = "oauth2.device.code_rejected"
MFA_REFUSED_EVENT = "oauth2.device.mfa_required"
WRONG_CODE_LIMIT = 5
WRONG_CODE_WINDOW = timedelta(minutes=15)


def _login_redirect(user_code: str) -> Response:
    target = DEVICE_PATH + (f"?user_code={quote(user_code, safe='')}" if user_code else "")
    return redirect(f"/login?next={quote(target, safe='')}")


def _wrong_codes_key(login: LoginState) -> str:
    # A row of the login throttle table (iam.accounts.throttling), not a count over the ledger.
    return f"device-code:user:{login.user_id}"


def _needs_second_factor(db: Session, login: LoginState) -> bool:
    """True when this login lacks the second factor the account has or its roles demand (a
    session from before a role or a factor was added still carries a password-only login)."""
    if login.acr == ACR_MFA:
        return False
    user = get_user(db, login.user_id)
    return user is None or roles_require_mfa(user) or bool(mfa.mfa_methods(db, login.user_id))


def _entry_form(
    db: Session, request: Request, user_code: str, *, status: int = 200, error: str | None = None
) -> Response:
    return page(
        db, request, "device.html", title=TITLE, status=status, error=error, user_code=user_code
    )


@router.get(DEVICE_PATH)
def device_form(db: DbSession, request: Request, user_code: str = "") -> Response:
    user_code = user_code[:20]
    if sessions.current_login(db, request) is None:
        return _login_redirect(user_code)
    return _entry_form(db, request, user_code)


@router.post(DEVICE_PATH)
def device_submit(
    db: DbSession,
    request: Request,
    user_code: Annotated[str, Form(max_length=20)] = "",
    decision: Annotated[str, Form(max_length=10)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    login = sessions.current_login(db, request)
    if login is None:
        return _login_redirect(user_code)
    if not sessions.csrf_valid(db, request, csrf_token):
        return _entry_form(db, request, user_code, status=403, error=CSRF_MESSAGE)
    if _needs_second_factor(db, login):
        record_event(
            db,
            event_type=MFA_REFUSED_EVENT,
            actor=f"user:{login.user_id}",
            outcome="denied",
            resource="oauth2_device_authorization",
            details={"session": str(login.session_id), "amr": list(login.amr)},
        )
        return _entry_form(db, request, "", status=403, error=MFA_MESSAGE)
    if throttling.is_blocked(db, _wrong_codes_key(login), utcnow()):
        return _entry_form(db, request, "", status=429, error=TOO_MANY_MESSAGE)
    row = find_pending_by_user_code(db, user_code)
    if row is None:
        throttling.record_failure(
            db, _wrong_codes_key(login), utcnow(), limit=WRONG_CODE_LIMIT, window=WRONG_CODE_WINDOW
        )
        record_event(
            db,
            event_type=WRONG_CODE_EVENT,
            actor=f"user:{login.user_id}",
            outcome="denied",
            resource="oauth2_device_authorization",
            details={"session": str(login.session_id)},
        )
        return _entry_form(db, request, user_code, status=422, error=BAD_CODE_MESSAGE)
    if decision not in ("approve", "deny"):
        client = oauth_clients.get_client(db, row.client_id)
        return page(
            db, request, "device.html", title=TITLE, user_code=user_code.upper(),
            client_name=client.name if client else row.client_id, scope=row.scope,
        )  # fmt: skip
    _decide(db, row, login, approved=decision == "approve")
    done = "Device connected." if decision == "approve" else "Request denied."
    return page(db, request, "device.html", title=TITLE, done=done)


def _decide(db: Session, row: DeviceAuthorization, login: LoginState, *, approved: bool) -> None:
    row.status = "approved" if approved else "denied"
    row.decided_at = utcnow()
    if approved:
        row.user_id = login.user_id
        row.auth_time = login.auth_time
        row.amr = list(login.amr)
        row.acr = login.acr
        row.sid = str(login.session_id)
    db.flush()
    record_event(
        db,
        event_type="oauth2.device.approved" if approved else "oauth2.device.denied",
        actor=f"user:{login.user_id}",
        outcome="success" if approved else "denied",
        resource=f"oauth2_client:{row.client_id}",
        details={
            "client_id": row.client_id,
            "device_request": str(row.id),
            "scope": row.scope,
            "amr": list(login.amr),
            "acr": login.acr,
        },
    )
