"""Login sessions: the current_login contract, idle timeout, absolute lifetime, rotation on
step-up, logout, and tokens stored only as HMACs."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from core.clock import utcnow
from iam.accounts.models import User
from iam.sessions import service, tokens
from iam.sessions.models import LoginSession
from tests.iam.accounts.support import make_user


def _request(cookie: str | None = None) -> Request:
    headers = []
    if cookie:
        headers.append((b"cookie", f"{service.cookie_name()}={cookie}".encode()))
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


def _cookie_of(response: Response) -> str:
    header = response.headers["set-cookie"]
    return header.split(";", 1)[0].split("=", 1)[1]


def _start(db: Session, response: Response, user: User) -> LoginSession:
    return service.start_session(db, _request(), response, user, state="authenticated", amr=["pwd"])


def test_current_login_after_a_password_only_login(db: Session) -> None:
    user = make_user(db, roles=["staff"])
    response = Response()
    row = service.start_session(db, _request(), response, user, state="authenticated", amr=["pwd"])
    token = _cookie_of(response)
    assert tokens.is_well_formed(token) and row.token_hash == tokens.token_digest(db, token)
    assert "HttpOnly" in response.headers["set-cookie"]
    assert "SameSite=lax" in response.headers["set-cookie"]
    state = service.current_login(db, _request(token))
    assert state is not None
    assert (state.user_id, state.email, state.roles) == (user.id, user.email, ["staff"])
    assert state.amr == ["pwd"] and state.acr == service.ACR_PASSWORD
    assert state.session_id == row.id and state.auth_time is not None
    assert service.current_login(db, _request(tokens.new_token())) is None
    assert service.current_login(db, _request("not-a-token")) is None


def test_pending_mfa_is_not_a_login_and_step_up_rotates_the_token(db: Session) -> None:
    user = make_user(db)
    first = Response()
    row = service.start_session(db, _request(), first, user, state="mfa_required", amr=["pwd"])
    old = _cookie_of(first)
    assert service.current_login(db, _request(old)) is None
    second = Response()
    service.advance_session(db, _request(old), second, row, add_amr="otp")
    new = _cookie_of(second)
    assert new != old
    assert service.current_login(db, _request(old)) is None  # the old token is worthless now
    state = service.current_login(db, _request(new))
    assert state is not None and state.amr == ["pwd", "otp"] and state.acr == service.ACR_MFA


def test_idle_timeout_and_absolute_lifetime(db: Session) -> None:
    user = make_user(db)
    idle_response, absolute_response = Response(), Response()
    idle = _start(db, idle_response, user)
    absolute = _start(db, absolute_response, user)
    idle.last_seen_at = utcnow() - timedelta(minutes=15, seconds=1)
    absolute.expires_at = utcnow() - timedelta(seconds=1)
    db.flush()
    assert service.current_login(db, _request(_cookie_of(idle_response))) is None
    assert service.current_login(db, _request(_cookie_of(absolute_response))) is None
    assert idle.ended_at is not None and absolute.ended_at is not None
    # Activity within the idle timeout keeps a session alive and moves last_seen_at.
    live_response = Response()
    live = _start(db, live_response, user)
    live.last_seen_at = utcnow() - timedelta(minutes=14)
    db.flush()
    assert service.current_login(db, _request(_cookie_of(live_response))) is not None
    assert utcnow() - live.last_seen_at < timedelta(seconds=5)


def test_end_login_and_disabling_the_user_end_sessions(db: Session) -> None:
    from iam.accounts.service import disable_user

    user = make_user(db)
    a, b = Response(), Response()
    service.start_session(db, _request(), a, user, state="authenticated", amr=["pwd"])
    service.start_session(db, _request(), b, user, state="authenticated", amr=["pwd"])
    out = Response()
    assert service.end_login(db, _request(_cookie_of(a)), out)
    assert "Max-Age=0" in out.headers["set-cookie"] or "expires=" in out.headers["set-cookie"]
    assert service.current_login(db, _request(_cookie_of(a))) is None
    assert service.current_login(db, _request(_cookie_of(b))) is not None
    disable_user(db, user)
    assert service.current_login(db, _request(_cookie_of(b))) is None
    live = db.scalars(select(LoginSession).where(LoginSession.ended_at.is_(None))).all()
    assert live == []


def test_csrf_token_is_bound_to_the_browser_token(db: Session) -> None:
    token, other = tokens.new_token(), tokens.new_token()
    csrf = tokens.csrf_token(db, token)
    assert tokens.csrf_matches(db, token, csrf)
    assert not tokens.csrf_matches(db, other, csrf)
    assert not tokens.csrf_matches(db, None, csrf)
    assert not tokens.csrf_matches(db, token, "")
    assert csrf != token and tokens.csrf_token(db, token) == csrf
