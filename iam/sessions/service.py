"""Browser login sessions: start (always with a fresh token), advance after MFA (token rotated),
read the current login, end. Idle timeout and absolute lifetime are enforced on every read.

The contract with iam/oauth2: ``current_login(db, request)`` and
``end_login(db, request, response)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from core.audit.service import record_event
from core.clock import utcnow
from core.settings import get_settings
from iam.accounts.models import User
from iam.accounts.repository import get_user
from iam.sessions import tokens
from iam.sessions.models import LoginSession

ACR_PASSWORD = "urn:rampart:acr:pwd"  # noqa: S105 - an acr value
ACR_MFA = "urn:rampart:acr:mfa"
# Writing last_seen_at on every request would turn reads into writes; this bounds the error of
# the idle timeout instead.
TOUCH_INTERVAL = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class LoginState:
    """A complete login (password and, where required, a second factor)."""

    user_id: UUID
    email: str
    roles: list[str]
    amr: list[str]
    acr: str
    auth_time: datetime
    session_id: UUID


def acr_for(amr: list[str]) -> str:
    return ACR_MFA if len(set(amr)) >= 2 else ACR_PASSWORD


def is_https() -> bool:
    return urlsplit(get_settings().issuer).scheme == "https"


def cookie_name() -> str:
    # __Host- pins the cookie to this host, path / and Secure: no subdomain can plant one.
    return "__Host-rampart_session" if is_https() else "rampart_session"


def cookie_token(request: Request) -> str | None:
    token = request.cookies.get(cookie_name())
    return token if tokens.is_well_formed(token) else None


def set_cookie(response: Response, token: str) -> None:
    response.set_cookie(
        cookie_name(),
        token,
        httponly=True,
        samesite="lax",
        secure=is_https(),
        path="/",
    )


def clear_cookie(response: Response) -> None:
    response.delete_cookie(
        cookie_name(), path="/", httponly=True, samesite="lax", secure=is_https()
    )


def browser_token(request: Request) -> str:
    """The token of this browser for the rest of the request: one set during this request (after
    a rotation), else the cookie's, else a new pre-login token. A pre-login token has no row, so
    anonymous page views write nothing; :func:`pending_cookie` says whether to set it."""
    token = _request_token(request)
    if token is None:
        token = tokens.new_token()
        _remember_new_token(request, token)
    return token


def pending_cookie(request: Request) -> str | None:
    """The token the response must set as cookie, when it differs from the request's cookie."""
    token = _request_token(request)
    return token if token is not None and token != cookie_token(request) else None


def _remember_new_token(request: Request, token: str) -> None:
    # A token set on this response wins over the request's cookie for the rest of the request
    # (the page rendered after a rotation must carry the new CSRF token).
    request.scope.setdefault("state", {})["rampart_new_token"] = token


def _request_token(request: Request) -> str | None:
    state = request.scope.get("state") or {}
    new: str | None = state.get("rampart_new_token")
    return new or cookie_token(request)


def load_session(db: Session, request: Request) -> LoginSession | None:
    """The live session row of this browser (any state), or None; expired rows are ended."""
    token = cookie_token(request)
    if token is None:
        return None
    row = db.scalars(
        select(LoginSession).where(
            LoginSession.token_hash == tokens.token_digest(db, token),
            LoginSession.ended_at.is_(None),
        )
    ).one_or_none()
    if row is None:
        return None
    now = utcnow()
    idle = timedelta(seconds=get_settings().session_idle_timeout)
    if row.expires_at <= now or row.last_seen_at + idle <= now:
        row.ended_at = now
        db.flush()
        return None
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        row.last_seen_at = now
        db.flush()
    return row


def login_state(db: Session, row: LoginSession) -> LoginState | None:
    if row.state != "authenticated" or row.auth_time is None:
        return None
    user = get_user(db, row.user_id)
    if user is None or user.status != "active":
        return None
    return LoginState(
        user_id=user.id,
        email=user.email,
        roles=user.roles,
        amr=list(row.amr),
        acr=acr_for(list(row.amr)),
        auth_time=row.auth_time,
        session_id=row.id,
    )


def current_login(db: Session, request: Request) -> LoginState | None:
    """The complete login of this browser, or None (no session, expired, or MFA pending)."""
    row = load_session(db, request)
    return login_state(db, row) if row is not None else None


def start_session(
    db: Session, request: Request, response: Response, user: User, *, state: str, amr: list[str]
) -> LoginSession:
    """A new session row with a new token (never the pre-login one: no session fixation); the
    browser's previous session, if any, ends."""
    previous = load_session(db, request)
    now = utcnow()
    if previous is not None:
        previous.ended_at = now
    token = tokens.new_token()
    row = LoginSession(
        token_hash=tokens.token_digest(db, token),
        user_id=user.id,
        state=state,
        amr=amr,
        auth_time=now if state == "authenticated" else None,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=get_settings().session_max_lifetime),
    )
    db.add(row)
    db.flush()
    set_cookie(response, token)
    _remember_new_token(request, token)
    if state == "authenticated":
        _audit_started(db, row)
    else:
        record_event(
            db,
            event_type="iam.login.password",
            actor=f"user:{user.id}",
            resource=f"user:{user.id}",
            details={"next_step": state, "session": str(row.id)},
        )
    return row


def advance_session(
    db: Session, request: Request, response: Response, row: LoginSession, *, add_amr: str
) -> None:
    """Record a further factor, mark the login complete and rotate the token (step-up)."""
    now = utcnow()
    token = tokens.new_token()
    row.token_hash = tokens.token_digest(db, token)
    row.amr = sorted({*row.amr, add_amr}, key=lambda m: (m != "pwd", m))
    row.state = "authenticated"
    row.auth_time = now
    row.last_seen_at = now
    row.webauthn_challenge = None
    db.flush()
    set_cookie(response, token)
    _remember_new_token(request, token)
    _audit_started(db, row)


def _audit_started(db: Session, row: LoginSession) -> None:
    record_event(
        db,
        event_type="iam.login",
        actor=f"user:{row.user_id}",
        resource=f"user:{row.user_id}",
        details={"amr": list(row.amr), "acr": acr_for(list(row.amr)), "session": str(row.id)},
    )


def end_login(db: Session, request: Request, response: Response) -> bool:
    """Log out: end this browser's session and clear its cookie. True when a session ended."""
    row = load_session(db, request)
    clear_cookie(response)
    if row is None:
        return False
    row.ended_at = utcnow()
    db.flush()
    record_event(
        db,
        event_type="iam.logout",
        actor=f"user:{row.user_id}",
        resource=f"user:{row.user_id}",
        details={"session": str(row.id)},
    )
    return True


def csrf_for(db: Session, request: Request) -> str:
    """The CSRF token for this page's forms (see :func:`pending_cookie` for the cookie)."""
    return tokens.csrf_token(db, browser_token(request))


def csrf_valid(db: Session, request: Request, submitted: str | None) -> bool:
    return tokens.csrf_matches(db, cookie_token(request), submitted)
