"""/v1/compliance through the real app and guard: officers run and waive, auditors read only,
no token is 401, a role without compliance rules is 403 (problem+json)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from compliance.checks.base import RegisteredCheck
from compliance.controls import ControlLibrary
from compliance.engine import EngineDeps, Scope, run
from core.clock import utcnow
from core.database import unit_of_work
from core.jobs.models import JobRun
from core.settings import get_settings
from tests.compliance.conftest import FIXTURES
from tests.policies.authz_support import api, authz_settings, bearer

__all__ = ["api", "authz_settings", "bearer"]  # fixtures used by name

Bearer = Callable[..., dict[str, str]]
OFFICER = "g, client:officer, role:compliance_officer, rampart"
AUDITOR = "g, client:auditor, role:auditor, rampart"
SERVICE = "g, client:checkout, role:service, rampart"


@pytest.fixture(autouse=True)
def fixture_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAMPART_COMPLIANCE_LIBRARY", str(FIXTURES / "library"))
    get_settings.cache_clear()  # settings are read once per process


@pytest.fixture
def evidence(
    api: TestClient,
    deps: EngineDeps,
    library: ControlLibrary,
    standard_checks: dict[str, RegisteredCheck],
) -> None:
    run(deps, library, Scope(framework="test-fw"))


def test_posture_counts_controls_per_status(
    api: TestClient, bearer: Bearer, evidence: None
) -> None:
    response = api.get("/v1/compliance/posture", headers=bearer("auditor", AUDITOR))
    assert response.status_code == 200, response.text
    (framework,) = response.json()["frameworks"]
    assert framework["framework"] == "test-fw" and framework["controls"] == 4
    assert framework["counts"] == {
        "pass": 2, "failing": 1, "error": 0, "manual-due": 1, "waived": 0
    }  # fmt: skip
    assert framework["percent_passing"] == 50.0


def test_controls_carry_status_and_trend_and_detail_the_evidence(
    api: TestClient, bearer: Bearer, evidence: None
) -> None:
    headers = bearer("auditor", AUDITOR)
    listing = api.get("/v1/compliance/controls?framework=test-fw", headers=headers).json()
    by_id = {item["control"]: item for item in listing["controls"]}
    assert by_id["test-fw:1.2"]["status"] == "failing"
    assert [p["status"] for p in by_id["test-fw:1.2"]["trend"]] == ["fail"]
    detail = api.get("/v1/compliance/controls/test-fw:1.2", headers=headers)
    assert detail.status_code == 200
    (record,) = detail.json()["evidence"]
    assert record["check"] == "tests.fails" and record["observed"] == {"mfa": False}
    missing = api.get("/v1/compliance/controls/test-fw:9.9", headers=headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_an_officer_runs_now_and_waives(api: TestClient, bearer: Bearer, deps: EngineDeps) -> None:
    headers = bearer("officer", OFFICER)
    queued = api.post("/v1/compliance/runs", json={"framework": "test-fw"}, headers=headers)
    assert queued.status_code == 202, queued.text
    with unit_of_work() as session:
        job_run = session.get_one(JobRun, uuid.UUID(queued.json()["job_run_id"]))
        assert job_run.job_name == "compliance.run"
        assert job_run.args["triggered_by"] == "client:officer"
    expires = (utcnow() + timedelta(days=7)).isoformat()
    body = {
        "control": "test-fw:1.2",
        "reason": "rollout",
        "approver": "ciso",
        "expires_at": expires,
    }
    granted = api.post("/v1/compliance/waivers", json=body, headers=headers)
    assert granted.status_code == 201, granted.text
    assert granted.json()["active"] is True
    revoked = api.delete(f"/v1/compliance/waivers/{granted.json()['id']}", headers=headers)
    assert revoked.status_code == 200 and revoked.json()["active"] is False


def test_no_token_is_401(api: TestClient) -> None:
    response = api.get("/v1/compliance/posture")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/compliance/posture", None),
        ("POST", "/v1/compliance/runs", {}),
    ],
)
def test_a_role_without_compliance_rules_is_403(
    api: TestClient, bearer: Bearer, method: str, path: str, body: object
) -> None:
    response = api.request(method, path, json=body, headers=bearer("checkout", SERVICE))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


def test_an_auditor_may_read_but_not_run_or_waive(api: TestClient, bearer: Bearer) -> None:
    headers = bearer("auditor", AUDITOR)
    assert api.get("/v1/compliance/waivers", headers=headers).status_code == 200
    assert api.post("/v1/compliance/runs", json={}, headers=headers).status_code == 403
    expires = (utcnow() + timedelta(days=7)).isoformat()
    body = {"control": "test-fw:1.2", "reason": "r", "approver": "a", "expires_at": expires}
    assert api.post("/v1/compliance/waivers", json=body, headers=headers).status_code == 403
