"""E-mail code sign-in on /privacy through the real app and guard: the right code signs in once,
three wrong codes end it, an expired code is refused, unknown and known addresses get the same
page, forms without the CSRF token are refused, and the portal session lives in the database."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from compliance.gdpr.portal.models import PortalCode, PortalSession
from compliance.gdpr.portal.sessions import cookie_name
from core.clock import utcnow
from core.database import unit_of_work
from iam.accounts.service import create_user
from tests.compliance.gdpr.portal.support import (
    ask_code,
    csrf_of,
    enter_code,
    latest_code,
    mails_to,
    sign_in_by_email,
)
from tests.iam.pages.support import login
from tests.policies.authz_support import api, authz_settings

__all__ = ["api", "authz_settings"]  # fixtures used by name

ADDRESS = "ada@example.com"


def _requests_page(api: TestClient) -> int:
    return int(api.get("/privacy/requests", follow_redirects=False).status_code)


def test_the_right_code_signs_in_once_and_the_session_is_stored_hashed(api: TestClient) -> None:
    assert api.get("/privacy/requests", follow_redirects=False).headers["location"] == (
        "/privacy?next=%2Fprivacy%2Frequests"
    )
    page = ask_code(api, ADDRESS)
    code = latest_code(ADDRESS)
    assert len(code) == 8
    assert enter_code(api, ADDRESS, code, page) == 303
    assert _requests_page(api) == 200
    token = api.cookies.get(cookie_name())
    assert token
    with unit_of_work() as db:
        rows = db.scalars(select(PortalSession)).all()
        codes = db.scalars(select(PortalCode)).all()
    assert [r.subject for r in rows] == ["email:" + hashlib.sha256(ADDRESS.encode()).hexdigest()]
    assert token not in rows[0].token_hash and code not in codes[0].code_hash
    # The code is spent: a second browser cannot use it again.
    api.cookies.clear()
    page = api.get("/privacy").text
    assert enter_code(api, ADDRESS, code, page) == 401
    assert _requests_page(api) == 303


def test_an_account_address_signs_in_as_the_account(api: TestClient) -> None:
    with unit_of_work() as db:
        user, _ = create_user(db, "grace@example.com", password="a long enough password 1")
        user_id = str(user.id)
    sign_in_by_email(api, "grace@example.com")
    with unit_of_work() as db:
        assert db.scalars(select(PortalSession.subject)).all() == [user_id]


def test_three_wrong_codes_end_the_code(api: TestClient) -> None:
    page = ask_code(api, ADDRESS)
    code = latest_code(ADDRESS)
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    for _ in range(3):
        assert enter_code(api, ADDRESS, wrong, page) == 401
    assert enter_code(api, ADDRESS, code, page) == 401
    assert _requests_page(api) == 303


def test_an_expired_code_is_refused(api: TestClient) -> None:
    page = ask_code(api, ADDRESS)
    code = latest_code(ADDRESS)
    with unit_of_work() as db:  # the clock cannot move: the code's expiry moves back instead
        db.execute(update(PortalCode).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert enter_code(api, ADDRESS, code, page) == 401
    assert _requests_page(api) == 303


def test_a_new_code_replaces_the_old_one(api: TestClient) -> None:
    ask_code(api, ADDRESS)
    first = latest_code(ADDRESS)
    page = ask_code(api, ADDRESS)
    second = latest_code(ADDRESS)
    if first != second:
        assert enter_code(api, ADDRESS, first, page) == 401
    assert enter_code(api, ADDRESS, second, page) == 303


def test_known_and_unknown_addresses_get_the_same_page(api: TestClient) -> None:
    with unit_of_work() as db:
        create_user(db, "known@example.com", password="a long enough password 1")

    def normalised(page: str, address: str) -> str:
        return page.replace(csrf_of(page), "CSRF").replace(address, "ADDRESS")

    known = normalised(ask_code(api, "known@example.com"), "known@example.com")
    unknown = normalised(ask_code(api, "nobody@example.com"), "nobody@example.com")
    assert known == unknown
    # Each got its code (a customer needs no account), and only its own.
    assert len(mails_to("known@example.com")) == len(mails_to("nobody@example.com")) == 1


def test_codes_per_address_are_rate_limited(api: TestClient) -> None:
    for _ in range(5):
        ask_code(api, ADDRESS)
    form = api.get("/privacy").text
    refused = api.post(
        "/privacy/sign-in/email", data={"email": ADDRESS, "csrf_token": csrf_of(form)}
    )
    assert refused.status_code == 429
    assert 'role="alert"' in refused.text
    assert len(mails_to(ADDRESS)) == 5


def test_forms_without_the_csrf_token_are_refused(api: TestClient) -> None:
    api.get("/privacy")
    refused = api.post("/privacy/sign-in/email", data={"email": ADDRESS, "csrf_token": "x"})
    assert refused.status_code == 403
    assert mails_to(ADDRESS) == []
    page = ask_code(api, ADDRESS)
    code = latest_code(ADDRESS)
    response = api.post(
        "/privacy/sign-in/code",
        data={"email": ADDRESS, "code": code, "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert enter_code(api, ADDRESS, code, page) == 303  # the refusal spent no attempt
    signed_in = api.get("/privacy/requests").text
    out = api.post("/privacy/sign-out", data={"csrf_token": "forged"}, follow_redirects=False)
    assert out.status_code == 403
    assert _requests_page(api) == 200
    out = api.post(
        "/privacy/sign-out", data={"csrf_token": csrf_of(signed_in)}, follow_redirects=False
    )
    assert out.status_code == 303
    assert _requests_page(api) == 303


def test_pages_carry_the_strict_policy_and_are_in_the_openapi_document(api: TestClient) -> None:
    page = api.get("/privacy")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert '<html lang="en">' in page.text and 'name="viewport"' in page.text
    paths = api.get("/openapi.json").json()["paths"]
    assert "/privacy/requests/{request_id}" in paths
    assert paths["/privacy"]["get"]["tags"] == ["privacy portal"]


def test_a_customer_logged_in_with_the_account_uses_the_portal(api: TestClient) -> None:
    with unit_of_work() as db:
        create_user(db, "lin@example.com", password="a long enough password 1", roles=["customer"])
    page = api.get("/privacy").text
    assert 'href="/login?next=%2Fprivacy%2Frequests"' in page
    assert login(api, "lin@example.com", "a long enough password 1", "/privacy/requests") == (
        "/privacy/requests"
    )
    assert _requests_page(api) == 200
    assert api.cookies.get(cookie_name()) is None  # the login session, no portal session
