"""/v1/consent through the real app and guard: a service records a customer's grant and
withdrawal (source api:<client>) and checks before personalising; an auditor reads but may not
record; no token is 401."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from compliance.gdpr import consent
from core.database import unit_of_work
from tests.policies.authz_support import api, authz_settings, bearer

__all__ = ["api", "authz_settings", "bearer"]  # fixtures used by name

Bearer = Callable[..., dict[str, str]]
SERVICE = "g, client:shop, role:service, rampart"
AUDITOR = "g, client:auditor, role:auditor, rampart"


def test_service_records_and_checks_auditor_reads(api: TestClient, bearer: Bearer) -> None:
    with unit_of_work() as session:
        consent.seed_default_purposes(session, actor="system")
    service = bearer("shop", SERVICE)
    check = {"subject": "cust-1", "purpose": "personalize"}
    assert api.get("/v1/consent/check", params=check, headers=service).json()["granted"] is False
    decision = {"subject": "cust-1", "purpose": "personalize", "notice_version": "1"}
    granted = api.post(
        "/v1/consent/decisions", json={**decision, "decision": "grant"}, headers=service
    )
    assert granted.status_code == 201, granted.text
    assert granted.json()["source"] == "api:shop"
    assert api.get("/v1/consent/check", params=check, headers=service).json()["granted"] is True
    api.post("/v1/consent/decisions", json={**decision, "decision": "withdraw"}, headers=service)
    assert api.get("/v1/consent/check", params=check, headers=service).json()["granted"] is False

    auditor = bearer("auditor", AUDITOR)
    subject = api.get("/v1/consent/subjects/cust-1", headers=auditor)
    assert subject.status_code == 200, subject.text
    assert [h["granted"] for h in subject.json()["history"]] == [True, False]
    per_purpose = api.get("/v1/consent/purposes/personalize/subjects", headers=auditor).json()
    assert (per_purpose["granted"], per_purpose["withdrawn"]) == (0, 1)
    assert len(api.get("/v1/consent/purposes", headers=auditor).json()["purposes"]) == 3
    refused = api.post(
        "/v1/consent/decisions", json={**decision, "decision": "grant"}, headers=auditor
    )
    assert refused.status_code == 403
    assert api.get("/v1/consent/check", params=check).status_code == 401
