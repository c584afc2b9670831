"""Who sees the dashboard: the policies decide on the login session (no session: to the login
page; a role without compliance rules: 403), and an auditor sees only an active engagement's
frameworks and audit period, nothing once it expired or was revoked (server-side)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from compliance.config import ComplianceConfig
from compliance.dashboard.engagements import open_engagement, revoke_engagement
from compliance.dashboard.models import AuditorEngagement
from core.clock import utcnow
from tests.compliance.dashboard.conftest import Browser
from tests.compliance.dashboard.seed import AS_OF

pytestmark = pytest.mark.usefixtures("seeded")

PERIOD = (date(2026, 2, 1), date(2026, 3, 31))


def engage(db: Session, browser: Browser, frameworks: list[str]) -> AuditorEngagement:
    browser("auditor")  # makes the account
    (auditor,) = browser.users.values()  # type: ignore[attr-defined]
    row = open_engagement(
        db,
        ComplianceConfig.from_env().library(),
        auditor=str(auditor.id),
        frameworks=frameworks,
        period_from=PERIOD[0],
        period_to=PERIOD[1],
        expires_at=utcnow() + timedelta(days=30),
        actor="user:officer",
    )
    db.commit()
    return row


def test_without_a_session_the_browser_goes_to_login_and_back(app_client: TestClient) -> None:
    response = app_client.get(f"/dashboard?as_of={AS_OF}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=" + quote(
        f"/dashboard?as_of={AS_OF}", safe=""
    )


def test_a_role_without_compliance_rules_is_refused(browser: Browser) -> None:
    client = browser(None)
    assert client.get("/dashboard", follow_redirects=False).status_code == 403


def test_an_auditor_without_an_engagement_sees_nothing(browser: Browser) -> None:
    client = browser("auditor")
    refused = client.get("/dashboard")
    assert refused.status_code == 403
    assert "no-audit-engagement" in refused.json()["type"]


def test_an_auditor_sees_the_engagement_period_only(browser: Browser, db: Session) -> None:
    engage(db, browser, ["dash-pci"])
    client = browser("auditor")
    page = client.get(f"/dashboard?as_of={AS_OF}")
    assert page.status_code == 200, page.text
    # as_of is clamped into the period, the other framework is not shown.
    assert f'<time datetime="{PERIOD[1]}">' in page.text and "Shown as of" in page.text
    assert "dash-privacy" not in page.text and "dash-pci" in page.text
    points = re.findall(r"as_of=(\d{4}-\d\d-\d\d)", page.text)
    assert points and min(points) >= str(PERIOD[0]) and max(points) <= str(PERIOD[1])
    early = client.get("/dashboard?as_of=2025-12-01")
    assert f'<time datetime="{PERIOD[0]}">' in early.text
    assert client.get("/dashboard/controls?framework=dash-privacy").status_code == 404
    assert client.get("/dashboard/controls/dash-privacy:art-5").status_code == 404
    detail = client.get("/dashboard/controls/dash-pci:1.2").text
    times = re.findall(r'<time datetime="(2026-[^"]+T[^"]+)">', detail)
    assert times and min(times) >= "2026-02-01" and max(times) <= "2026-04-01"
    # Evidence of the period is shown; evidence after it is refused whatever as_of says.
    (inside,) = re.findall(r'href="(/dashboard/evidence/[^"?]+)', detail)[:1]
    assert client.get(inside).status_code == 200
    officer = browser("compliance_officer")
    late = officer.get(f"/dashboard/controls/dash-pci:1.2?as_of={AS_OF}").text
    (outside,) = re.findall(r'href="(/dashboard/evidence/[^"?]+)', late)[:1]
    client = browser("auditor")
    assert client.get(f"{outside}?as_of={AS_OF}").status_code == 404


def test_an_expired_or_revoked_engagement_shows_nothing(browser: Browser, db: Session) -> None:
    row = engage(db, browser, ["dash-pci", "dash-privacy"])
    client = browser("auditor")
    assert client.get("/dashboard").status_code == 200
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.commit()
    assert client.get("/dashboard").status_code == 403
    row.expires_at = utcnow() + timedelta(days=1)
    db.commit()
    assert client.get("/dashboard").status_code == 200
    revoke_engagement(db, row.id, actor="user:officer")
    db.commit()
    assert client.get("/dashboard").status_code == 403
    assert client.get(f"/dashboard/controls/dash-pci:1.2?as_of={AS_OF}").status_code == 403


def test_officers_and_auditors_are_not_limited_by_engagements(browser: Browser) -> None:
    client = browser("compliance_officer")
    page = client.get(f"/dashboard?as_of={AS_OF}")
    assert page.status_code == 200 and "dash-privacy" in page.text
