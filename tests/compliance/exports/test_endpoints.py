"""/v1/evidence through the real app and guard: auditors export and read the key, a service is
refused (problem+json), and the downloaded zip verifies and is recorded in the ledger."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from compliance.checks.base import RegisteredCheck
from compliance.controls import ControlLibrary
from compliance.engine import EngineDeps, Scope, run
from compliance.exports.verify import verify_export
from core.audit.models import AuditEntry
from core.clock import utcnow
from core.database import unit_of_work
from core.settings import get_settings
from tests.compliance.conftest import FIXTURES
from tests.policies.authz_support import api, authz_settings, bearer

__all__ = ["api", "authz_settings", "bearer"]  # fixtures used by name

Bearer = Callable[..., dict[str, str]]
AUDITOR = "g, client:auditor, role:auditor, rampart"
SERVICE = "g, client:checkout, role:service, rampart"


@pytest.fixture(autouse=True)
def fixture_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAMPART_COMPLIANCE_LIBRARY", str(FIXTURES / "library"))
    get_settings.cache_clear()


def _body() -> dict[str, str]:
    now = utcnow()
    return {
        "framework": "test-fw",
        "from": (now - timedelta(days=1)).isoformat(),
        "to": (now + timedelta(days=1)).isoformat(),
    }


def test_an_auditor_downloads_a_verifying_export_and_the_ledger_records_it(
    api: TestClient,
    bearer: Bearer,
    deps: EngineDeps,
    library: ControlLibrary,
    standard_checks: dict[str, RegisteredCheck],
    tmp_path: Path,
) -> None:
    run(deps, library, Scope(framework="test-fw"))
    headers = bearer("auditor", AUDITOR)
    key = api.get("/v1/evidence/key", headers=headers)
    assert key.status_code == 200, key.text
    response = api.post("/v1/evidence/exports", json=_body(), headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    path = tmp_path / "export.zip"
    path.write_bytes(response.content)
    result = verify_export(path, [deps.signer.public_signing_key()])
    assert result.problems == [] and result.trusted and result.evidence_records == 2
    assert response.headers["x-rampart-key-fingerprint"] == key.json()["fingerprint"]
    with unit_of_work(deps.read_sessions, read_only=True) as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.event_type == "evidence.exported")
        ).one()
    assert entry.actor == "client:auditor"
    assert response.headers["x-rampart-archive-sha256"] in entry.details
    assert list((get_settings().data_dir / "exports").iterdir()) == []


def test_a_service_may_not_export_and_bad_periods_are_problems(
    api: TestClient, bearer: Bearer
) -> None:
    refused = api.post("/v1/evidence/exports", json=_body(), headers=bearer("checkout", SERVICE))
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    auditor = bearer("auditor", AUDITOR)
    backwards = {**_body(), "to": (utcnow() - timedelta(days=3)).isoformat()}
    answer = api.post("/v1/evidence/exports", json=backwards, headers=auditor)
    assert answer.status_code == 422 and "before" in answer.json()["detail"]
    unknown = api.post(
        "/v1/evidence/exports",
        json={**_body(), "framework": "sox"},
        headers=auditor,
    )
    assert unknown.status_code == 404
