"""/v1/dashboard/engagements through the real guard: an officer opens, lists and revokes; an
auditor cannot open one; the ledger records each without personal data."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient

from core.clock import utcnow
from core.database import unit_of_work
from iam.accounts.service import create_user
from tests.policies.authz_support import api, audit_entries, authz_settings, bearer

__all__ = ["api", "authz_settings", "bearer"]  # fixtures used by name

Bearer = Callable[..., dict[str, str]]
OFFICER = "g, client:officer, role:compliance_officer, rampart"
AUDITOR = "g, client:auditor, role:auditor, rampart"


def test_an_officer_opens_lists_and_revokes_an_engagement(api: TestClient, bearer: Bearer) -> None:
    with unit_of_work() as session:
        user, _ = create_user(session, "ada@audit.example", password="a long passphrase 42!")
        auditor_id = str(user.id)
    body = {
        "auditor": "ada@audit.example",
        "frameworks": ["dash-pci"],
        "period_from": "2026-01-01",
        "period_to": "2026-03-31",
        "expires_at": (utcnow() + timedelta(days=10)).isoformat(),
    }
    headers = bearer("officer", OFFICER)
    opened = api.post("/v1/dashboard/engagements", json=body, headers=headers)
    assert opened.status_code == 201, opened.text
    assert opened.json()["auditor"] == auditor_id and opened.json()["active"] is True
    bad = api.post(
        "/v1/dashboard/engagements", json={**body, "frameworks": ["nope"]}, headers=headers
    )
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"
    auditor = bearer("auditor", AUDITOR)
    assert api.post("/v1/dashboard/engagements", json=body, headers=auditor).status_code == 403
    listed = api.get("/v1/dashboard/engagements", headers=auditor).json()["engagements"]
    assert [item["id"] for item in listed] == [opened.json()["id"]]
    revoked = api.delete(f"/v1/dashboard/engagements/{opened.json()['id']}", headers=headers)
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    with unit_of_work(read_only=True) as session:
        (entry,) = audit_entries(session, "dashboard.engagement_opened")
        assert "ada@audit.example" not in entry.details
        assert len(audit_entries(session, "dashboard.engagement_revoked")) == 1
