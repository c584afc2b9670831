"""/v1/scans through the real app and guard: security staff (a user token with MFA) register the
weak shop, start a scan that runs as the job on real workers, watch its progress, list, accept
and dismiss findings and fetch reports; auditors read findings but change nothing; no token is
401, a role without scan rules is 403 (problem+json); header values never in any response."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.clock import utcnow
from core.database import unit_of_work
from core.jobs import JobsConfig, JobsRuntime
from core.jobs.models import JobRun
from core.settings import Settings, get_settings
from iam.accounts.service import create_user
from iam.oauth2.tokens import Subject, mint_access_token
from tests.policies.authz_support import api, authz_settings, bearer
from tests.scanners.shops import PLANTED

__all__ = ["api", "authz_settings", "bearer"]  # fixtures used by name

Bearer = Callable[..., dict[str, str]]
AUDITOR = "g, client:auditor, role:auditor, rampart"
OFFICER = "g, client:officer, role:compliance_officer, rampart"
SERVICE = "g, client:checkout, role:service, rampart"
SECRET = "Bearer s3cr3t-api-scan-token-91d2e"


@pytest.fixture(autouse=True)
def scan_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAMPART_SCAN_ALLOW_PRIVATE_NETWORKS", "true")
    monkeypatch.setenv("RAMPART_SCAN_MAX_SECONDS", "30")
    get_settings.cache_clear()


@pytest.fixture
def workers(api: TestClient) -> Iterator[JobsRuntime]:
    config = JobsConfig(poll_seconds=0.05, lease_seconds=5.0, max_scheduler_sleep=0.2)
    running = JobsRuntime(config, scheduler=False, workers=True, concurrency=1).start()
    yield running
    running.stop(timeout=5)


def _user_bearer(email: str, roles: list[str], amr: list[str]) -> dict[str, str]:
    """A real signed access token of a user who logged in with ``amr`` (the guard verifies it)."""
    with unit_of_work() as db:
        user, _ = create_user(db, email, roles=roles)
        subject = Subject(user_id=user.id, auth_time=utcnow(), amr=amr)
        token, _, _ = mint_access_token(
            db, client_id="rampart-cli", subject=subject, scope="", audience=[get_settings().issuer]
        )
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def staff(api: TestClient) -> dict[str, str]:
    return _user_bearer("secops@shop.example", ["security_staff"], ["pwd", "otp"])


class Seen:
    """Every response of a test, to check no header value ever comes back."""

    def __init__(self, api: TestClient) -> None:
        self.api = api
        self.bodies: list[str] = []

    def __call__(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = self.api.request(method, url, **kwargs)
        self.bodies.append(json.dumps(dict(response.headers)) + response.text)
        return response


def _problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


def _wait(call: Seen, headers: dict[str, str], scan_id: str, seconds: float = 60) -> dict[str, Any]:
    deadline, polls = time.monotonic() + seconds, []
    while time.monotonic() < deadline:
        response = call("GET", f"/v1/scans/runs/{scan_id}", headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        polls.append(body["status"])
        if body["status"] in ("complete", "failed"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"scan {scan_id} still {polls[-1]} after {seconds}s")


def test_staff_register_scan_triage_and_report_the_weak_shop(
    api: TestClient, staff: dict[str, str], bearer: Bearer, weak_scan_shop: str,
    workers: JobsRuntime,
) -> None:  # fmt: skip
    call = Seen(api)
    body = {"name": "weak", "url": weak_scan_shop, "headers": {"Authorization": SECRET}}
    created = call("POST", "/v1/scans/targets", json=body, headers=staff)
    assert created.status_code == 201, created.text
    assert created.json()["header_names"] == ["Authorization"]
    assert created.json()["created_by"].startswith("user:")
    _problem(call("POST", "/v1/scans/targets", json=body, headers=staff), 409)
    listed = call("GET", "/v1/scans/targets", headers=staff).json()["targets"]
    assert [t["name"] for t in listed] == ["weak"]
    shown = call("GET", "/v1/scans/targets/weak", headers=staff).json()
    assert shown["url"].rstrip("/") == weak_scan_shop.rstrip("/")
    assert shown["header_names"] == ["Authorization"] and "headers" not in shown

    started = call("POST", "/v1/scans/runs", json={"target": "weak"}, headers=staff)
    assert started.status_code == 202, started.text
    scan_id = started.json()["id"]
    assert started.json()["status"] == "queued"
    with unit_of_work(read_only=True) as session:
        job_run = session.get_one(JobRun, uuid.UUID(started.json()["job_run_id"]))
        assert job_run.job_name == "scanners.scan" and job_run.args == {"scan_id": scan_id}
    done = _wait(call, staff, scan_id)
    assert done["status"] == "complete", done["error"]
    assert done["pages_done"] >= 5 and done["pages_done"] == done["pages_total"]
    assert done["findings"] >= len(PLANTED)

    findings = call("GET", "/v1/scans/targets/weak/findings", headers=staff).json()["findings"]
    assert {f["rule"] for f in findings} >= PLANTED
    assert {f["status"] for f in findings} == {"new"}
    high = call("GET", "/v1/scans/targets/weak/findings?min_risk=high", headers=staff)
    assert high.status_code == 200
    assert high.json()["findings"] and {f["risk"] for f in high.json()["findings"]} <= {
        "high", "critical"
    }  # fmt: skip
    assert len(high.json()["findings"]) < len(findings)

    csp = next(f for f in findings if f["rule"] == "csp-missing")
    until = (utcnow() + timedelta(days=30)).isoformat()
    accept = {"reason": "CSP rollout in Q1", "approver": "ciso", "expires_at": until}
    accepted = call("POST", f"/v1/scans/findings/{csp['id']}/accept", json=accept, headers=staff)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted" and accepted.json()["approver"] == "ciso"
    _problem(
        call("POST", f"/v1/scans/findings/{csp['id']}/accept", json=accept, headers=staff), 409
    )
    too_late = {**accept, "expires_at": (utcnow() + timedelta(days=400)).isoformat()}
    other = next(f for f in findings if f["rule"] == "sri-missing")
    _problem(
        call("POST", f"/v1/scans/findings/{other['id']}/accept", json=too_late, headers=staff), 409
    )
    dismissed = call(
        "POST", f"/v1/scans/findings/{other['id']}/false-positive",
        json={"reason": "our own CDN"}, headers=staff,
    )  # fmt: skip
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "false_positive"
    active = call("GET", "/v1/scans/targets/weak/findings", headers=staff).json()["findings"]
    assert {f["id"] for f in active} == {f["id"] for f in findings} - {csp["id"], other["id"]}
    kept = call(
        "GET", "/v1/scans/targets/weak/findings?status=accepted&status=false_positive",
        headers=staff,
    ).json()["findings"]  # fmt: skip
    assert {f["id"]: f["status"] for f in kept} == {
        csp["id"]: "accepted", other["id"]: "false_positive"
    }  # fmt: skip

    auditor = bearer("auditor", AUDITOR)
    shown = call("GET", f"/v1/scans/findings/{csp['id']}", headers=auditor)
    assert shown.status_code == 200 and shown.json()["reason"] == "CSP rollout in Q1"
    _problem(call("POST", f"/v1/scans/findings/{active[0]['id']}/accept", json=accept,
                  headers=auditor), 403)  # fmt: skip
    _problem(call("POST", "/v1/scans/runs", json={"target": "weak"}, headers=auditor), 403)
    _problem(call("GET", "/v1/scans/targets", headers=auditor), 403)

    sarif = call("GET", "/v1/scans/targets/weak/report?format=sarif", headers=auditor)
    assert sarif.status_code == 200
    assert sarif.headers["content-type"] == "application/sarif+json"
    (sarif_run,) = sarif.json()["runs"]
    assert {r["ruleId"] for r in sarif_run["results"]} >= PLANTED - {"csp-missing", "sri-missing"}
    junit = call("GET", "/v1/scans/targets/weak/report?format=junit", headers=auditor)
    assert junit.headers["content-type"] == "application/xml" and b"<testsuite" in junit.content
    html = call("GET", "/v1/scans/targets/weak/report?format=html", headers=auditor)
    assert html.headers["content-type"].startswith("text/html") and b"<html" in html.content
    as_json = call("GET", "/v1/scans/targets/weak/report", headers=auditor)
    assert as_json.headers["content-type"] == "application/json"
    _problem(call("GET", "/v1/scans/targets/weak/report?format=pdf", headers=auditor), 422)

    removed = call("DELETE", "/v1/scans/targets/weak", headers=staff)
    assert removed.status_code == 200 and removed.json()["name"] == "weak"
    _problem(call("GET", "/v1/scans/targets/weak", headers=staff), 404)
    _problem(call("GET", f"/v1/scans/findings/{csp['id']}", headers=staff), 404)

    assert all(SECRET not in text and "s3cr3t" not in text for text in call.bodies)
    with unit_of_work(read_only=True) as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.event_type.like("scanners.%"))
        ).all()
        assert {e.event_type for e in entries} >= {
            "scanners.target_added", "scanners.scan_queued", "scanners.scan_completed",
            "scanners.finding_transition", "scanners.target_removed",
        }  # fmt: skip
        assert all("s3cr3t" not in json.dumps(e.details) for e in entries)


def test_a_queued_scan_is_cancelled_and_stays_so(
    api: TestClient, staff: dict[str, str], bearer: Bearer, weak_scan_shop: str
) -> None:
    body = {"name": "weak", "url": weak_scan_shop}
    assert api.post("/v1/scans/targets", json=body, headers=staff).status_code == 201
    started = api.post("/v1/scans/runs", json={"target": "weak"}, headers=staff)  # no workers
    scan_id = started.json()["id"]
    auditor = bearer("auditor", AUDITOR)
    _problem(api.post(f"/v1/scans/runs/{scan_id}/cancel", headers=auditor), 403)
    cancelled = api.post(f"/v1/scans/runs/{scan_id}/cancel", headers=staff)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "failed"
    assert cancelled.json()["error"].startswith("cancelled by user:")
    _problem(api.post(f"/v1/scans/runs/{scan_id}/cancel", headers=staff), 409)
    shown = api.get(f"/v1/scans/runs/{scan_id}", headers=staff).json()
    assert shown["status"] == "failed" and shown["findings"] == 0


def test_the_role_needs_a_second_factor(api: TestClient, weak_scan_shop: str) -> None:
    one_factor = _user_bearer("pwd-only@shop.example", ["security_staff"], ["pwd"])
    body = {"name": "weak", "url": weak_scan_shop}
    _problem(api.post("/v1/scans/targets", json=body, headers=one_factor), 403)


def test_a_compliance_officer_reads_findings_but_not_targets(
    api: TestClient, bearer: Bearer, staff: dict[str, str], weak_scan_shop: str
) -> None:
    body = {"name": "weak", "url": weak_scan_shop}
    assert api.post("/v1/scans/targets", json=body, headers=staff).status_code == 201
    officer = bearer("officer", OFFICER)
    listed = api.get("/v1/scans/targets/weak/findings", headers=officer)
    assert listed.status_code == 200 and listed.json() == {"findings": []}
    _problem(api.delete("/v1/scans/targets/weak", headers=officer), 403)
    _problem(api.get("/v1/scans/targets/nowhere/findings", headers=officer), 404)


def test_bad_input_is_a_problem_that_never_echoes_a_header_value(
    api: TestClient, staff: dict[str, str], weak_scan_shop: str
) -> None:
    bad = {"name": "weak", "url": weak_scan_shop, "headers": {"Host": SECRET}}
    refused = api.post("/v1/scans/targets", json=bad, headers=staff)
    _problem(refused, 422)
    assert "s3cr3t" not in refused.text
    broken = {"name": "weak", "url": weak_scan_shop, "headers": {"X-Key": SECRET + "\r\nX: y"}}
    refused = api.post("/v1/scans/targets", json=broken, headers=staff)
    _problem(refused, 422)
    assert "s3cr3t" not in refused.text
    _problem(api.post("/v1/scans/runs", json={"target": "absent"}, headers=staff), 404)
    _problem(api.get("/v1/scans/runs/0190d7a2-0000-7000-8000-000000000000", headers=staff), 404)


def test_no_token_is_401(api: TestClient) -> None:
    _problem(api.get("/v1/scans/targets"), 401)
    _problem(api.post("/v1/scans/runs", json={"target": "weak"}), 401)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/scans/targets", None),
        ("POST", "/v1/scans/targets", {"name": "x", "url": "http://127.0.0.1/"}),
        ("POST", "/v1/scans/runs", {"target": "x"}),
        ("GET", "/v1/scans/targets/x/findings", None),
        ("GET", "/v1/scans/targets/x/report", None),
    ],
)
def test_a_role_without_scan_rules_is_403(
    api: TestClient, bearer: Bearer, method: str, path: str, body: object
) -> None:
    _problem(api.request(method, path, json=body, headers=bearer("checkout", SERVICE)), 403)
