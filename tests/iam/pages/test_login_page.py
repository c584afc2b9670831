"""The login page: CSP and cookie attributes, accessibility basics, login CSRF refused, one
answer for every refused login, no open redirect, session rotation at login."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from iam.pages.endpoints import CSP_BY_PREFIX
from iam.pages.rendering import PAGES_CSP
from iam.sessions.models import LoginSession
from server import registry
from tests.iam.accounts.support import PASSWORD, make_user
from tests.iam.pages.support import csrf_of, login

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style|\sstyle=|\son[a-z]+=", re.IGNORECASE)


def test_server_registry_uses_the_pages_policy() -> None:
    assert set(CSP_BY_PREFIX) <= set(registry.PAGE_CSP_BY_PREFIX)
    assert "iam.pages.endpoints" in registry.ROUTER_MODULES


def test_login_page_is_strict_accessible_and_sets_a_prelogin_cookie(client: TestClient) -> None:
    response = client.get("/login")
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == PAGES_CSP
    assert "script-src 'self'" in PAGES_CSP and "unsafe-inline" not in PAGES_CSP
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    html = response.text
    assert '<html lang="en">' in html
    assert '<label for="email">' in html and 'id="email"' in html
    assert '<label for="password">' in html and 'id="password"' in html
    assert not INLINE_SCRIPT.search(html) and not INLINE_STYLE.search(html)
    assert client.get("/assets/iam/rampart.css").headers["content-type"].startswith("text/css")
    assert "--brand: #1d4ed8" in client.get("/assets/iam/brand.css").text


def test_login_without_or_with_a_wrong_csrf_token_is_refused(
    client: TestClient, db: Session
) -> None:
    make_user(db)
    client.get("/login")
    form = {"email": "alice@example.com", "password": PASSWORD, "next": "/account"}
    for token in (None, "forged", "A" * 43):
        data = dict(form) if token is None else {**form, "csrf_token": token}
        response = client.post("/login", data=data, follow_redirects=False)
        assert response.status_code == 403
        assert 'role="alert"' in response.text
    # A token minted for another browser (another pre-login cookie) does not fit this one.
    with TestClient(client.app) as other:
        foreign = csrf_of(other.get("/login").text)
    response = client.post("/login", data={**form, "csrf_token": foreign}, follow_redirects=False)
    assert response.status_code == 403
    assert db.scalars(select(LoginSession)).first() is None
    db.rollback()


def test_wrong_password_and_unknown_email_answer_alike(client: TestClient, db: Session) -> None:
    make_user(db)
    answers = []
    for email, password in (("alice@example.com", "wrong pass 123"), ("x@example.com", PASSWORD)):
        token = csrf_of(client.get("/login").text)
        response = client.post(
            "/login",
            data={"email": email, "password": password, "csrf_token": token, "next": "/"},
        )
        answers.append((response.status_code, response.text.replace(email, "EMAIL")))
        assert "Invalid email or password" in response.text
        assert PASSWORD not in response.text
    (status_a, body_a), (status_b, body_b) = answers
    assert status_a == status_b == 401
    strip = re.compile(r'(value|content)="[A-Za-z0-9_-]{43}"')
    assert strip.sub("", body_a) == strip.sub("", body_b)


def test_login_rotates_the_session_and_redirects_only_on_site(
    client: TestClient, db: Session
) -> None:
    make_user(db)
    before = client.get("/login").cookies.get("rampart_session") or client.cookies.get(
        "rampart_session"
    )
    location = login(client, "alice@example.com", PASSWORD, next_url="//evil.example/x")
    assert location == "/account"
    after = client.cookies.get("rampart_session")
    assert before and after and before != after
    row = db.scalars(select(LoginSession)).one()
    assert row.token_hash != after and len(row.token_hash) == 64  # only an HMAC is stored
    assert row.state == "authenticated" and row.amr == ["pwd"]
    db.rollback()  # SQLite: release the test's transaction before the app writes
    page = client.get("/account")
    assert page.status_code == 200 and "alice@example.com" in page.text
    assert login(client, "alice@example.com", PASSWORD, next_url="/oauth2/authorize?x=1") == (
        "/oauth2/authorize?x=1"
    )


def test_logout_needs_csrf_and_ends_the_session(client: TestClient, db: Session) -> None:
    make_user(db)
    login(client, "alice@example.com", PASSWORD)
    assert client.post("/logout", data={}).status_code == 403
    assert client.get("/account", follow_redirects=False).status_code == 200
    page = client.get("/logout")
    response = client.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 200 and 'id="logged-out"' in response.text
    client.cookies.clear()
    assert client.get("/account", follow_redirects=False).status_code == 303
    db.expire_all()
    assert db.scalars(select(LoginSession)).one().ended_at is not None


def test_a_non_ascii_csrf_token_is_refused_not_a_server_error(client: TestClient) -> None:
    """Found by wapiti: hmac.compare_digest raises on non-ASCII text (was a 500)."""
    client.get("/login")
    response = client.post(
        "/login",
        data={"email": "a@example.com", "password": "x", "csrf_token": "caf\u00e9"},
        follow_redirects=False,
    )
    assert response.status_code == 403
