"""The dashboard pages through the real app, guard and database: the numbers are those of the
seeded evidence as of the day asked, every link resolves, and a red number leads to the failing
evidence in two clicks."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from compliance.config import ComplianceConfig
from compliance.dashboard.views import end_of_day, trend_days
from compliance.posture import posture, posture_series
from tests.compliance.dashboard.conftest import Browser
from tests.compliance.dashboard.seed import AS_OF, BEFORE

pytestmark = pytest.mark.usefixtures("seeded")

HREF = re.compile(r'href="(/dashboard[^"]*)"')
COUNT = re.compile(r'<a class="count[^"]*" data-status="([^"]+)" href="([^"]+)"[^>]*>(\d+)<')
RED = re.compile(r'<a class="count status-failing alert" data-status="failing" href="([^"]+)"')


def counts_of(html: str, framework: str) -> dict[str, int]:
    """The overview's count links of ``framework``: status -> number."""
    found = {}
    for match in COUNT.finditer(html):
        href = unescape(match.group(2))
        if parse_qs(urlsplit(href).query).get("framework") == [framework]:
            found[match.group(1)] = int(match.group(3))
    return found


def links(html: str) -> list[str]:
    return [unescape(h) for h in HREF.findall(html) if "/assets/" not in h]


def test_overview_counts_as_of_a_day_are_those_of_the_evidence(browser: Browser) -> None:
    client = browser("compliance_officer")
    now = client.get(f"/dashboard?as_of={AS_OF}")
    assert now.status_code == 200, now.text
    assert counts_of(now.text, "dash-pci") == {
        "pass": 2, "failing": 1, "error": 0, "manual-due": 1, "waived": 0
    }  # fmt: skip
    assert counts_of(now.text, "dash-privacy") == {
        "pass": 1, "failing": 0, "error": 0, "manual-due": 0, "waived": 1
    }  # fmt: skip
    assert f'<time datetime="{AS_OF}">' in now.text and 'id="as-of-banner"' in now.text
    then = client.get(f"/dashboard?as_of={BEFORE}")
    assert counts_of(then.text, "dash-pci") == {
        "pass": 3, "failing": 0, "error": 0, "manual-due": 1, "waived": 0
    }  # fmt: skip
    assert "the state as it stood then" in then.text


def test_the_weekly_trend_is_the_posture_rebuilt_at_each_point(db: Session) -> None:
    library = ComplianceConfig.from_env().library()
    days = trend_days(AS_OF)
    assert len(days) == 53 and days[-1] == AS_OF and days[0] == AS_OF - timedelta(weeks=52)
    for framework in ("dash-pci", "dash-privacy"):
        series = posture_series(db, library, [end_of_day(d) for d in days], framework)
        for day in days:
            assert series[end_of_day(day)] == posture(db, library, end_of_day(day), framework)


def test_a_red_number_leads_to_the_failing_evidence_in_two_clicks(browser: Browser) -> None:
    client = browser("compliance_officer")
    overview = client.get(f"/dashboard?as_of={AS_OF}").text
    (red,) = [unescape(m.group(1)) for m in RED.finditer(overview)]
    listing = client.get(red)  # click 1
    assert listing.status_code == 200
    assert re.findall(r'data-control="([^"]+)"', listing.text) == ["dash-pci:1.2"]
    (record,) = re.findall(r'class="evidence-link" href="([^"]+)"', listing.text)
    evidence = client.get(unescape(record))  # click 2
    assert evidence.status_code == 200
    assert "admins_without_mfa" in evidence.text and "result-fail" in evidence.text
    assert "2026-06-29T06:00:00+00:00" in evidence.text
    assert "verified" in evidence.text and "does not verify" not in evidence.text


def test_every_link_on_the_pages_resolves(browser: Browser) -> None:
    """Every page reachable as of the day, each link followed; links to other days (the trend)
    are requested too, one in five, not followed further."""
    client = browser("compliance_officer")
    seen: set[str] = set()
    other_days: set[str] = set()
    queue = [f"/dashboard?as_of={AS_OF}"]
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        assert response.status_code == 200, (url, response.text[:300])
        for found in links(response.text):
            same_day = parse_qs(urlsplit(found).query).get("as_of", [str(AS_OF)]) == [str(AS_OF)]
            if same_day:
                queue.append(found)
            else:
                other_days.add(found)
    assert any(u.startswith("/dashboard/evidence/") for u in seen)
    assert any(u.startswith("/dashboard/controls/") for u in seen)
    assert len(seen) > 20 and len(other_days) > 100
    for url in sorted(other_days)[::5]:
        assert client.get(url).status_code == 200, url


def test_controls_filter_by_status_owner_and_text(browser: Browser) -> None:
    client = browser("compliance_officer")

    def ids(query: str) -> list[str]:
        page = client.get(f"/dashboard/controls?as_of={AS_OF}&{query}")
        assert page.status_code == 200, page.text
        return re.findall(r'data-control="([^"]+)"', page.text)

    pci = ["dash-pci:1.1", "dash-pci:1.2", "dash-pci:1.3", "dash-pci:2.1"]
    assert ids("framework=dash-pci") == pci
    assert ids("owner=security_staff") == ["dash-pci:1.1", "dash-pci:2.1"]
    assert ids("status=waived") == ["dash-privacy:art-12"]
    assert ids("q=second+factor") == ["dash-pci:1.2"]
    assert ids(f"status=failing&as_of={BEFORE}") == []
    assert client.get("/dashboard/controls?framework=nope").status_code == 404


def test_a_control_shows_its_evidence_up_to_the_day_only(browser: Browser) -> None:
    client = browser("compliance_officer")
    page = client.get(f"/dashboard/controls/dash-pci:1.2?as_of={BEFORE}").text
    times = re.findall(r'<time datetime="(2026-[^"]+T[^"]+)">', page)
    assert times and max(times) == "2026-03-09T06:00:00+00:00"  # the Monday before 03-15
    assert "result-fail" not in page
    later = client.get(f"/dashboard/controls/dash-pci:1.2?as_of={AS_OF}").text
    assert "result-fail" in later and "dash.mfa failed" in unescape(later)
    # A record of after the as-of day is not shown as of that day.
    (newest,) = re.findall(r'href="(/dashboard/evidence/[^"?]+)', later)[:1]
    assert client.get(f"{newest}?as_of={BEFORE}").status_code == 404
    assert client.get("/dashboard/controls/dash-pci:9.9").status_code == 404


def test_pages_carry_a_strict_csp_and_nothing_inline(browser: Browser) -> None:
    client = browser("compliance_officer")
    pages = (f"/dashboard?as_of={AS_OF}", "/dashboard/controls", "/dashboard/controls/dash-pci:1.2")
    for url in pages:
        response = client.get(url)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe" not in csp
        assert "<script" not in response.text and " style=" not in response.text
        assert '<a class="skip" href="#main">' in response.text and "<main" in response.text


def test_the_pages_are_in_the_openapi_document(app_client: TestClient) -> None:
    paths = app_client.get("/openapi.json").json()["paths"]
    for path in ("/dashboard", "/dashboard/controls", "/dashboard/controls/{control_id}",
                 "/dashboard/evidence/{evidence_id}"):  # fmt: skip
        operation = paths[path]["get"]
        assert operation["tags"] == ["dashboard"]
        assert "text/html" in operation["responses"]["200"]["content"]
