"""MFA through the pages: a role that requires MFA forces enrolment; a failed enrolment stores
nothing; the next login demands the code; codes and recovery codes are single use."""

from __future__ import annotations

import json

import httpx
import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.models import AuditEntry
from iam.mfa.models import RecoveryCode, TotpCredential
from iam.sessions.models import LoginSession
from tests.iam.accounts.support import PASSWORD, make_user
from tests.iam.pages.support import (
    RECOVERY_CODE,
    SEALED_INPUT,
    csrf_of,
    enrol_totp,
    login,
    next_step_code,
)


def _logout(client: TestClient) -> None:
    page = client.get("/logout")
    client.post("/logout", data={"csrf_token": csrf_of(page.text)})


def _submit_code(
    client: TestClient, code: str, method: str = "totp", next_url: str = "/account"
) -> httpx.Response:
    page = client.get(f"/login/mfa?next={next_url}")
    assert page.status_code == 200, page.text
    response: httpx.Response = client.post(
        "/login/mfa",
        data={"code": code, "method": method, "csrf_token": csrf_of(page.text), "next": next_url},
        follow_redirects=False,
    )
    return response


def test_admin_must_enrol_and_a_failed_enrolment_stores_nothing(
    client: TestClient, db: Session
) -> None:
    make_user(db, "root@example.com", roles=["admin"])
    assert login(client, "root@example.com", PASSWORD) == "/account/totp?next=%2Faccount"
    # Not logged in yet: the account page sends back to login.
    assert client.get("/account", follow_redirects=False).status_code == 303
    page = client.get("/account/totp?next=/account")
    sealed = SEALED_INPUT.search(page.text)
    assert sealed
    wrong = client.post(
        "/account/totp",
        data={"code": "000000", "enrolment": sealed.group(1), "csrf_token": csrf_of(page.text)},
    )
    assert wrong.status_code == 422 and 'role="alert"' in wrong.text
    assert db.scalars(select(TotpCredential)).first() is None
    assert db.scalars(select(RecoveryCode)).first() is None
    db.rollback()

    secret, codes_page = enrol_totp(client)
    codes = RECOVERY_CODE.findall(codes_page)
    assert len(codes) == 10 and len(set(codes)) == 10
    account = client.get("/account")
    assert account.status_code == 200 and "two factors" in account.text
    row = db.scalars(select(LoginSession).where(LoginSession.ended_at.is_(None))).one()
    assert row.amr == ["pwd", "otp"] and row.state == "authenticated"
    stored = db.scalars(select(RecoveryCode)).all()
    assert {r.code_hash for r in stored}.isdisjoint(codes)
    events = db.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    assert "iam.mfa.enrolled" in [e.event_type for e in events]
    for entry in events:
        assert secret not in entry.details and PASSWORD not in entry.details
        assert not any(code in entry.details for code in codes)
    db.rollback()


def test_next_login_demands_the_code_and_refuses_reuse(client: TestClient, db: Session) -> None:
    make_user(db, "root@example.com", roles=["admin"])
    login(client, "root@example.com", PASSWORD)
    secret, codes_page = enrol_totp(client)
    used_at_enrolment = pyotp.TOTP(secret).now()
    _logout(client)

    assert login(client, "root@example.com", PASSWORD) == "/login/mfa?next=%2Faccount"
    assert client.get("/account", follow_redirects=False).status_code == 303
    bad = _submit_code(client, "123456" if used_at_enrolment != "123456" else "654321")
    assert bad.status_code == 401 and "not valid" in bad.text
    # The code spent by the enrolment cannot be replayed within its window.
    assert _submit_code(client, used_at_enrolment).status_code == 401
    code = next_step_code(secret)
    ok = _submit_code(client, code)
    assert ok.status_code == 303 and ok.headers["location"] == "/account"
    assert client.get("/account").status_code == 200

    _logout(client)
    login(client, "root@example.com", PASSWORD)
    assert _submit_code(client, code).status_code == 401  # same code, second login: refused
    recovery = RECOVERY_CODE.findall(codes_page)[0]
    assert _submit_code(client, recovery.upper(), method="recovery").status_code == 303
    _logout(client)
    login(client, "root@example.com", PASSWORD)
    assert _submit_code(client, recovery, method="recovery").status_code == 401

    verify_events = db.scalars(
        select(AuditEntry).where(AuditEntry.event_type == "iam.mfa.verify")
    ).all()
    outcomes = [(json.loads(e.details)["method"], e.outcome) for e in verify_events]
    assert ("totp", "failure") in outcomes and ("recovery", "success") in outcomes
    db.rollback()


def test_mfa_page_without_a_pending_login_goes_to_login(client: TestClient) -> None:
    response = client.get("/login/mfa?next=/account", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
