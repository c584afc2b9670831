"""The control page's waiver forms through the real app, guard, CSRF check and database: an
officer waives a control until a day and revokes the waiver (303 back, "waived" shown, the
ledger records both); a stale or missing CSRF token, a role the policies refuse and invalid
input each write nothing; past days and other roles see no form."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from compliance.config import ComplianceConfig
from compliance.dashboard.engagements import open_engagement
from compliance.models import Waiver
from core.audit.models import AuditEntry
from core.clock import utcnow
from core.database import unit_of_work
from tests.compliance.dashboard.conftest import Browser
from tests.compliance.dashboard.seed import AS_OF
from tests.iam.pages.support import csrf_of, enrol_totp

pytestmark = pytest.mark.usefixtures("seeded")

CONTROL = "dash-pci:1.2"  # failing today: its weekly evidence stopped on 2026-06-29
PAGE = f"/dashboard/controls/{CONTROL}"
REVOKE = re.compile(r'action="(/dashboard/controls/[^"]+/waivers/[0-9a-f-]+/revoke)"')
STATUS = re.compile(r'<dt>Status</dt><dd><span class="badge status-([a-z-]+)">')


def written() -> tuple[int, int]:
    """(waivers of CONTROL stored, waiver entries in the ledger), read afresh (the seed's own
    waiver of another control has no ledger entry)."""
    with unit_of_work(read_only=True) as session:
        waivers = session.scalar(
            select(func.count()).select_from(Waiver).where(Waiver.control_id == CONTROL)
        )
        entries = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.event_type.startswith("compliance.waiver_"))
        )
    return int(waivers or 0), int(entries or 0)


def the_form(client: TestClient, **fields: str) -> dict[str, str]:
    page = client.get(PAGE)
    assert page.status_code == 200, page.text
    last_day = (utcnow() + timedelta(days=30)).date().isoformat()
    return {
        "csrf_token": csrf_of(page.text),
        "reason": "compensating control: hardware keys rolled out by hand",
        "approver": "ciso@example.com",
        "expires": last_day,
        **fields,
    }


def status_of(html: str) -> str:
    match = STATUS.search(html)
    assert match, "no status on the page"
    return match.group(1)


def test_an_officer_sees_the_form_today_and_not_on_a_past_day(browser: Browser) -> None:
    client = browser("compliance_officer")
    today = client.get(PAGE).text
    assert 'class="waive-form"' in today and 'action="/dashboard/controls/dash-pci:1.2/waivers"'
    assert 'name="csrf_token"' in today and 'id="waiver-expires"' in today
    assert "waive-form" in client.get(f"{PAGE}?as_of={utcnow().date()}").text  # today, named
    past = client.get(f"{PAGE}?as_of={AS_OF}").text
    assert "waive-form" not in past and 'name="csrf_token"' not in past


def test_waiving_by_the_form_shows_the_control_waived_and_writes_the_ledger(
    browser: Browser,
) -> None:
    client = browser("compliance_officer")
    assert status_of(client.get(PAGE).text) == "failing"
    form = the_form(client)
    answer = client.post(f"{PAGE}/waivers", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == PAGE
    page = client.get(PAGE).text
    assert status_of(page) == "waived"
    assert form["reason"] in unescape(page) and "ciso@example.com" in page
    assert f'<time datetime="{form["expires"]}T23:59:59.999999+00:00">' in page
    assert len(REVOKE.findall(page)) == 1
    assert written() == (1, 1)
    with unit_of_work(read_only=True) as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.event_type == "compliance.waiver_granted")
        ).one()
        (officer,) = browser.users.values()  # type: ignore[attr-defined]
        assert entry.actor == f"user:{officer.id}"
        assert entry.resource == f"compliance/controls/{CONTROL}"
    # The day's view of a past day does not show today's waiver.
    assert status_of(client.get(f"{PAGE}?as_of={AS_OF}").text) == "failing"


@pytest.mark.parametrize("token", [None, "", "not-the-token", "x" * 43])
def test_a_missing_or_wrong_csrf_token_is_refused_and_nothing_written(
    browser: Browser, token: str | None
) -> None:
    client = browser("compliance_officer")
    form = the_form(client)
    if token is None:
        del form["csrf_token"]
    else:
        form["csrf_token"] = token
    answer = client.post(f"{PAGE}/waivers", data=form, follow_redirects=False)
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("text/html")
    assert 'id="form-error"' in answer.text and "Nothing was changed" in answer.text
    assert written() == (0, 0)


def test_another_browsers_csrf_token_is_refused(app_client: TestClient, browser: Browser) -> None:
    """The token is bound to the login session: one taken from another session is refused."""
    officer = browser("compliance_officer")
    form = the_form(officer)
    browser("compliance_officer", "second-officer@example.com")  # the same client, new session
    answer = app_client.post(f"{PAGE}/waivers", data=form, follow_redirects=False)
    assert answer.status_code == 403
    assert written() == (0, 0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"reason": "   "}, "needs a reason and an approver"),
        ({"approver": ""}, "needs a reason and an approver"),
        ({"expires": ""}, "as a date (YYYY-MM-DD)"),
        ({"expires": "31/12/2026"}, "as a date (YYYY-MM-DD)"),
        ({"expires": "2026-02-30"}, "as a date (YYYY-MM-DD)"),
        ({"expires": "2026-01-01"}, "must be in the future"),
    ],
)
def test_invalid_input_is_the_page_again_with_the_reason_and_nothing_written(
    browser: Browser, fields: dict[str, str], message: str
) -> None:
    client = browser("compliance_officer")
    form = the_form(client, **fields)
    answer = client.post(f"{PAGE}/waivers", data=form, follow_redirects=False)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert message in unescape(answer.text) and 'role="alert"' in answer.text
    if fields.get("reason") is None:  # what was typed is kept
        assert form["reason"] in unescape(answer.text)
    assert status_of(answer.text) == "failing"
    assert written() == (0, 0)


def test_an_unknown_control_is_404_and_nothing_written(browser: Browser) -> None:
    client = browser("compliance_officer")
    form = the_form(client)
    answer = client.post("/dashboard/controls/dash-pci:9.9/waivers", data=form)
    assert answer.status_code == 404
    assert written() == (0, 0)


def test_an_officer_revokes_the_waiver_with_its_button(browser: Browser) -> None:
    client = browser("compliance_officer")
    client.post(f"{PAGE}/waivers", data=the_form(client), follow_redirects=False)
    page = client.get(PAGE).text
    (revoke,) = REVOKE.findall(page)
    stale = client.post(revoke, data={"csrf_token": "stale"}, follow_redirects=False)
    assert stale.status_code == 403 and status_of(stale.text) == "waived"
    assert written() == (1, 1)
    answer = client.post(revoke, data={"csrf_token": csrf_of(page)}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == PAGE
    after = client.get(PAGE).text
    assert status_of(after) == "failing" and not REVOKE.findall(after)
    assert written() == (1, 2)
    with unit_of_work(read_only=True) as session:
        assert session.scalars(select(Waiver).where(Waiver.control_id == CONTROL)).one().revoked_at
    # Revoked already, or named under another control: nothing to revoke.
    again = client.post(revoke, data={"csrf_token": csrf_of(after)}, follow_redirects=False)
    assert again.status_code == 404
    elsewhere = revoke.replace(CONTROL, "dash-pci:1.1")
    assert client.post(elsewhere, data={"csrf_token": csrf_of(after)}).status_code == 404
    assert written() == (1, 2)


def test_an_auditor_sees_the_waiver_but_no_form_and_its_posts_are_refused(
    browser: Browser, db: Session
) -> None:
    officer = browser("compliance_officer")
    officer.post(f"{PAGE}/waivers", data=the_form(officer), follow_redirects=False)
    (revoke,) = REVOKE.findall(officer.get(PAGE).text)
    auditor = browser("auditor")
    open_engagement(
        db,
        ComplianceConfig.from_env().library(),
        auditor=str(browser.users["auditor@example.com"].id),  # type: ignore[attr-defined]
        frameworks=["dash-pci"],
        period_from=AS_OF - timedelta(days=30),
        period_to=utcnow().date(),
        expires_at=utcnow() + timedelta(days=30),
        actor="user:officer",
    )
    db.commit()
    page = auditor.get(PAGE)
    assert page.status_code == 200
    assert status_of(page.text) == "waived" and "ciso@example.com" in page.text
    assert "waive-form" not in page.text and not REVOKE.findall(page.text)
    assert 'name="csrf_token"' not in page.text
    token = csrf_of(auditor.get("/account").text)  # a valid token: the policies refuse
    last_day = (utcnow() + timedelta(days=30)).date().isoformat()
    form = {"csrf_token": token, "reason": "r", "approver": "a", "expires": last_day}
    grant = auditor.post(f"{PAGE}/waivers", data=form)
    assert grant.status_code == 403
    assert grant.headers["content-type"] == "application/problem+json"
    assert auditor.post(revoke, data={"csrf_token": token}).status_code == 403
    assert written() == (1, 1)


@pytest.mark.parametrize("role", ["security_staff", None])
def test_other_roles_cannot_post_the_forms(browser: Browser, role: str | None) -> None:
    client = browser(role)
    if role == "security_staff":
        enrol_totp(client)  # the role's policies want a second factor
    token = csrf_of(client.get("/account").text)  # a valid token of this login session
    last_day = (utcnow() + timedelta(days=30)).date().isoformat()
    form = {"csrf_token": token, "reason": "r", "approver": "a", "expires": last_day}
    answer = client.post(f"{PAGE}/waivers", data=form, follow_redirects=False)
    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/problem+json"
    assert written() == (0, 0)


def test_without_a_session_a_post_goes_to_login_and_writes_nothing(
    app_client: TestClient,
) -> None:
    form = {"reason": "r", "approver": "a", "expires": "2099-01-01"}
    answer = app_client.post(f"{PAGE}/waivers", data=form, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")
    assert written() == (0, 0)


def test_the_form_routes_are_in_the_openapi_document(app_client: TestClient) -> None:
    paths = app_client.get("/openapi.json").json()["paths"]
    for path in (
        "/dashboard/controls/{control_id}/waivers",
        "/dashboard/controls/{control_id}/waivers/{waiver_id}/revoke",
    ):
        operation = paths[path]["post"]
        assert operation["tags"] == ["dashboard"]
        assert "application/x-www-form-urlencoded" in operation["requestBody"]["content"]
        assert {"303", "403", "422"} <= set(operation["responses"])
