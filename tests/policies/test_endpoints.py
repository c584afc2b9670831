"""The decision API and the policy store API over HTTP, behind the real guard: real access tokens
from the token endpoint, the stored policy, and the audit ledger."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from core.database import unit_of_work
from tests.policies.authz_support import (
    add_policy_lines,
    api,
    audit_entries,
    authz_settings,
    bearer,
)

__all__ = ["api", "authz_settings", "bearer"]  # fixtures used by name

SERVICE = "g, {}, role:service, rampart"
Bearer = Callable[..., dict[str, str]]


def _check(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "subject": "user:alice",
        "roles": ["auditor"],
        "object": "evidence",
        "action": "read",
    }
    body.update(overrides)
    return body


def test_a_service_gets_decisions_on_the_current_version_without_the_rule(
    api: TestClient, bearer: Bearer
) -> None:
    headers = bearer("svc-orders", SERVICE.format("client:svc-orders"))
    allowed = api.post("/v1/authz/check", json=_check(), headers=headers)
    assert allowed.status_code == 200, allowed.text
    body = allowed.json()
    assert body["allowed"] is True and body["policy_version"] == 2
    assert "rule" not in body  # explain is for callers allowed authz explain
    denied = api.post("/v1/authz/check", json=_check(action="delete"), headers=headers)
    assert denied.json()["allowed"] is False


def test_explain_names_the_deciding_rule_for_callers_allowed_to_explain(
    api: TestClient, bearer: Bearer
) -> None:
    headers = bearer(
        "svc-admin",
        SERVICE.format("client:svc-admin"),
        "p, client:svc-admin, rampart, authz, explain, allow,",
    )
    body = api.post("/v1/authz/check", json=_check(action="delete"), headers=headers).json()
    assert body["allowed"] is False
    assert body["rule"].startswith("p, role:auditor, rampart, *, write|create|update|delete")
    allowed = api.post("/v1/authz/check", json=_check(), headers=headers).json()
    assert allowed["rule"] == "p, role:auditor, rampart, evidence, read|list|verify|export, allow,"


def test_the_batch_answers_every_check_on_one_version_and_refuses_over_1000(
    api: TestClient, bearer: Bearer
) -> None:
    headers = bearer("svc-batch", SERVICE.format("client:svc-batch"))
    checks = [_check(), _check(action="delete"), _check(subject="user:x", roles=[])] * 300
    response = api.post("/v1/authz/check-batch", json={"checks": checks}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["policy_version"] == 2
    assert [r["allowed"] for r in body["results"][:3]] == [True, False, False]
    assert len(body["results"]) == 900
    too_many = api.post(
        "/v1/authz/check-batch", json={"checks": [_check()] * 1001}, headers=headers
    )
    assert too_many.status_code == 422
    assert too_many.json()["type"].endswith("/authz-batch-too-large")


def test_conditions_read_the_context_the_service_sends(api: TestClient, bearer: Bearer) -> None:
    headers = bearer("svc-ctx", SERVICE.format("client:svc-ctx"))
    base = _check(subject="user:root", roles=["admin"], object="keys", action="rotate")
    without_mfa = api.post("/v1/authz/check", json=base, headers=headers).json()
    with_mfa = api.post(
        "/v1/authz/check", json={**base, "context": {"amr": ["pwd", "mfa"]}}, headers=headers
    ).json()
    assert (without_mfa["allowed"], with_mfa["allowed"]) == (False, True)


def test_no_token_is_401_and_a_forged_token_is_401(api: TestClient, bearer: Bearer) -> None:
    headers = bearer("svc-forge", SERVICE.format("client:svc-forge"))
    assert api.post("/v1/authz/check", json=_check()).status_code == 401
    token = headers["Authorization"].removeprefix("Bearer ")
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    response = api.post(
        "/v1/authz/check", json=_check(), headers={"Authorization": f"Bearer {forged}"}
    )
    assert response.status_code == 401


def test_a_client_without_a_grant_is_denied_and_the_deny_is_audited(
    api: TestClient, bearer: Bearer
) -> None:
    headers = bearer("svc-stranger")
    response = api.post("/v1/authz/check", json=_check(), headers=headers)
    assert response.status_code == 403
    with unit_of_work(read_only=True) as db:
        denied = audit_entries(db, "authz.denied")
    assert denied and denied[-1].actor == "client:svc-stranger"
    assert denied[-1].outcome == "denied" and denied[-1].resource == "authz"


def test_policy_changes_over_http_are_versioned_audited_and_enforced_at_once(
    api: TestClient, bearer: Bearer
) -> None:
    headers = bearer(
        "svc-policy",
        SERVICE.format("client:svc-policy"),
        "p, client:svc-policy, rampart, policies, read|apply|rollback, allow,",
    )
    current = api.get("/v1/policies", headers=headers).json()
    assert current["version"] == 2
    grant = "p, role:auditor, rampart, vault/stats, read, allow,"
    applied = api.post(
        "/v1/policies",
        json={"lines": [*current["lines"], grant], "reason": "auditors read vault stats"},
        headers=headers,
    )
    assert applied.status_code == 200, applied.text
    assert applied.json() == {"changed": True, "version": 3, "lines_added": 1, "lines_removed": 0}
    check = _check(object="vault:stats")
    assert api.post("/v1/authz/check", json=check, headers=headers).json() == {
        "allowed": True,
        "policy_version": 3,
    }
    history = api.get("/v1/policies/versions", headers=headers).json()
    assert [v["version"] for v in history] == [3, 2, 1]
    assert history[0]["actor"] == "client:svc-policy"
    assert history[0]["reason"] == "auditors read vault stats"

    rolled = api.post(
        "/v1/policies/rollback", json={"version": 2, "reason": "undo"}, headers=headers
    )
    assert rolled.json()["version"] == 4 and rolled.json()["lines_removed"] == 1
    assert api.post("/v1/authz/check", json=check, headers=headers).json()["allowed"] is False
    assert api.get("/v1/policies?version=2", headers=headers).json()["lines"] == current["lines"]
    with unit_of_work(read_only=True) as db:
        assert [e.resource for e in audit_entries(db, "policy.changed")][-1] == "policy:3"
        assert [e.resource for e in audit_entries(db, "policy.rolled_back")] == ["policy:4"]
        # A policy change is sensitive: its allow is audited too.
        allowed = [e for e in audit_entries(db, "authz.allowed") if e.resource == "policies"]
    assert len(allowed) == 2


def test_an_invalid_policy_is_refused_whole(api: TestClient, bearer: Bearer) -> None:
    headers = bearer(
        "svc-bad",
        SERVICE.format("client:svc-bad"),
        "p, client:svc-bad, rampart, policies, read|apply, allow,",
    )
    response = api.post(
        "/v1/policies",
        json={"lines": ["p, role:x, rampart, orders, read, allow, mfa & zone"], "reason": "bad"},
        headers=headers,
    )
    assert response.status_code == 422
    assert response.json()["type"].endswith("/policy-invalid")
    assert api.get("/v1/policies", headers=headers).json()["version"] == 2


def test_roles_only_unlock_what_the_policy_grants(api: TestClient, bearer: Bearer) -> None:
    headers = bearer("svc-limited", SERVICE.format("client:svc-limited"))
    assert api.get("/v1/policies", headers=headers).status_code == 403
    add_policy_lines("p, client:svc-limited, rampart, policies, read, allow,")
    assert api.get("/v1/policies", headers=headers).status_code == 200
