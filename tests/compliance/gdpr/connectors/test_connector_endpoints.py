"""/v1/dsar/connectors and the manual tasks' results through the real app and guard: an officer
creates, tests (a signed ping to the example CRM), rotates, disables and deletes; the secret is
shown once; a service client is refused; a task is recorded over HTTP and the request completes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from compliance.gdpr import decisions, service, workflow
from compliance.gdpr.connectors.base import SubjectRef
from core.audit.models import AuditEntry
from core.database import unit_of_work
from core.settings import get_settings
from examples.dsar_connector.app import create_app
from tests.fixtures.local_apps import serve_app
from tests.policies.authz_support import api, authz_settings, bearer

__all__ = ["api", "authz_settings", "bearer"]  # fixtures used by name

Bearer = Callable[..., dict[str, str]]
OFFICER = "p, client:officer, rampart, dsar/*, *, allow,"
SERVICE = "g, client:shop, role:service, rampart"
CRM_SECRET = "the-crm-secret-for-the-api-test-0001"


@pytest.fixture
def allow_private(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("RAMPART_GDPR_ALLOW_PRIVATE_NETWORKS", "true")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_officer_manages_a_webhook_and_its_secret_is_shown_once(
    api: TestClient, bearer: Bearer, allow_private: None
) -> None:
    officer = bearer("officer", OFFICER)
    with serve_app(create_app(CRM_SECRET)) as base:
        created = api.post(
            "/v1/dsar/connectors",
            json={
                "name": "crm",
                "kind": "webhook",
                "url": f"{base}/rampart/dsar",
                "types": ["access", "erasure"],
                "timeout_seconds": 5,
            },
            headers=officer,
        )
        assert created.status_code == 201, created.text
        generated = created.json()["secret"]
        assert len(generated) >= 32 and created.json()["connector"]["has_secret"] is True
        # The CRM knows another secret: the ping reaches it and is refused (401).
        refused = api.post("/v1/dsar/connectors/crm/test", headers=officer).json()
        assert (refused["ok"], refused["detail"]) == (False, "the service answered HTTP 401")
        rotated = api.post(
            "/v1/dsar/connectors/crm/rotate-secret", json={"secret": CRM_SECRET}, headers=officer
        )
        assert rotated.status_code == 200, rotated.text
        pinged = api.post("/v1/dsar/connectors/crm/test", headers=officer).json()
        assert pinged == {"name": "crm", "ok": True, "status": "not_applicable", "detail": "pong"}
    listed = api.get("/v1/dsar/connectors", headers=officer)
    assert [c["name"] for c in listed.json()["connectors"]] == ["crm"]
    for shown in (listed.text, api.get("/v1/dsar/connectors/crm", headers=officer).text):
        assert generated not in shown and CRM_SECRET not in shown
    generated_again = api.post("/v1/dsar/connectors/crm/rotate-secret", headers=officer)
    assert generated_again.status_code == 200 and generated_again.json()["secret"] != CRM_SECRET

    patched = api.patch(
        "/v1/dsar/connectors/crm", json={"types": ["access"], "timeout_seconds": 2}, headers=officer
    )
    assert (patched.json()["types"], patched.json()["timeout_seconds"]) == (["access"], 2.0)
    wrong = api.patch("/v1/dsar/connectors/crm", json={"instructions": "x"}, headers=officer)
    assert wrong.status_code == 422 and "no instructions" in wrong.json()["detail"]
    disabled = api.post("/v1/dsar/connectors/crm/disable", headers=officer)
    assert disabled.json()["enabled"] is False
    assert api.delete("/v1/dsar/connectors/crm", headers=officer).status_code == 204
    assert api.get("/v1/dsar/connectors/crm", headers=officer).status_code == 404
    with unit_of_work(read_only=True) as db:
        audited = json.dumps([e.details for e in db.scalars(select(AuditEntry))])
    assert CRM_SECRET not in audited and generated not in audited


def test_a_service_client_is_refused_and_bad_configs_are_422(
    api: TestClient, bearer: Bearer
) -> None:
    shop = bearer("shop", SERVICE)
    assert api.get("/v1/dsar/connectors", headers=shop).status_code == 403
    assert api.get("/v1/dsar/connectors").status_code == 401
    officer = bearer("officer", OFFICER)
    for body in (
        {"name": "rampart.crm", "kind": "webhook", "url": "https://crm.example/",
         "types": ["access"]},
        {"name": "crm", "kind": "webhook", "url": "ftp://crm.example/", "types": ["access"]},
        {"name": "crm", "kind": "webhook", "url": "https://u:p@crm.example/", "types": ["access"]},
        {"name": "crm", "kind": "webhook", "url": "https://crm.example/", "types": ["ping"]},
        {"name": "crm", "kind": "manual", "types": ["access"], "instructions": "x"},
        {"name": "crm", "kind": "webhook", "url": "https://crm.example/", "types": ["access"],
         "secret": "short"},
    ):  # fmt: skip
        assert api.post("/v1/dsar/connectors", json=body, headers=officer).status_code == 422


def test_a_manual_task_is_listed_recorded_over_http_and_the_request_completes(
    api: TestClient, bearer: Bearer
) -> None:
    officer = bearer("officer", OFFICER)
    created = api.post(
        "/v1/dsar/connectors",
        json={
            "name": "paper-archive",
            "kind": "manual",
            "types": ["access"],
            "instructions": "Look in cabinet B.",
            "assignee_email": "archive@shop.example",
        },
        headers=officer,
    )
    assert created.status_code == 201, created.text
    assert created.json()["secret"] is None
    with unit_of_work() as db:
        request = service.file_request(
            db,
            type="access",
            subject=SubjectRef("cust-9", None),
            channel="officer",
            actor="user:officer",
            identity_verified=True,
        )
        decisions.start(db, request.id, actor="user:officer")
        request_id = request.id
    assert workflow.process_request(request_id) == "in_progress"
    (task,) = api.get("/v1/dsar/tasks", params={"status": "open"}, headers=officer).json()["tasks"]
    assert (task["request_id"], task["connector"]) == (str(request_id), "paper-archive")
    path = f"/v1/dsar/requests/{request_id}/tasks/paper-archive"
    recorded = api.post(
        path, json={"status": "not_applicable", "note": "no folder"}, headers=officer
    )
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["closed_by"] == "client:officer"
    assert api.post(path, json={"status": "done"}, headers=officer).status_code == 404
    assert api.post(path, json={"status": "pending"}, headers=officer).status_code == 422
    assert workflow.process_request(request_id) == "completed"
