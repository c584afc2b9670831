"""The vault over HTTP: permissions per type, purpose-bound detokenize, batch results per item,
precise problems for bad input, limits refused whole."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.audit.models import AuditEntry
from core.sensitive import luhn_valid
from tests.vault.conftest import CHECKOUT, CRM, READER, AllowTable
from vault.models import VaultToken

PROBLEM = "application/problem+json"


def _tokenize(api: TestClient, kind: str, value: str, auth: str = CHECKOUT, **extra: object):  # type: ignore[no-untyped-def]
    return api.post(
        f"/v1/vault/{kind}/tokens", json={"value": value, **extra}, headers={"Authorization": auth}
    )


def test_tokenize_detokenize_roundtrip(api: TestClient, allow_table: AllowTable) -> None:
    created = _tokenize(api, "pan", "4111 1111 1111 1111")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["token"].endswith("1111") and not luhn_valid(body["token"])
    assert body["id"].startswith("vt_")
    assert body["fingerprint"] is None  # only with its own permission (test_oracles.py)
    answer = api.post(
        "/v1/vault/pan/detokenize",
        json={"token": body["token"], "purpose": "payment.capture"},
        headers={"Authorization": CHECKOUT},
    )
    assert answer.status_code == 200 and answer.json()["value"] == "4111111111111111"
    assert answer.headers["cache-control"] == "no-store"
    assert ("svc-checkout", "vault:pan", "detokenize", True) in allow_table.decisions


def test_permission_is_per_type(api: TestClient) -> None:
    card = _tokenize(api, "pan", "5555555555554444").json()["token"]
    email = _tokenize(api, "email", "ada@example.com", auth=CRM).json()["token"]
    denied = api.post(
        "/v1/vault/pan/detokenize",
        json={"token": card, "purpose": "crm.lookup"},
        headers={"Authorization": CRM},
    )
    assert denied.status_code == 403 and denied.headers["content-type"] == PROBLEM
    allowed = api.post(
        "/v1/vault/email/detokenize",
        json={"token": email, "purpose": "crm.lookup"},
        headers={"Authorization": CRM},
    )
    assert allowed.json()["value"] == "ada@example.com"
    revealed = api.post(
        "/v1/vault/pan/reveal", json={"token": card}, headers={"Authorization": CRM}
    )
    assert revealed.json()["masked"] == "555555******4444"
    reader = api.post(
        "/v1/vault/pan/reveal", json={"token": card}, headers={"Authorization": READER}
    )
    assert reader.status_code == 403
    anonymous = api.post("/v1/vault/pan/tokens", json={"value": "5555555555554444"})
    assert anonymous.status_code == 401


def test_detokenize_requires_purpose_and_failures_are_audited(
    api: TestClient, sessions: sessionmaker[Session]
) -> None:
    token = _tokenize(api, "pan", "4111111111111111").json()["token"]
    missing = api.post(
        "/v1/vault/pan/detokenize", json={"token": token}, headers={"Authorization": CHECKOUT}
    )
    assert missing.status_code == 422 and missing.headers["content-type"] == PROBLEM
    bad = api.post(
        "/v1/vault/pan/detokenize",
        json={"token": token, "purpose": "X"},
        headers={"Authorization": CHECKOUT},
    )
    assert bad.status_code == 422 and bad.json()["type"].endswith("/vault-purpose-invalid")
    unknown = api.post(
        "/v1/vault/pan/detokenize",
        json={"token": "4111111111111121", "purpose": "payment.capture"},
        headers={"Authorization": CHECKOUT},
    )
    assert unknown.status_code == 404 and unknown.json()["type"].endswith("/vault-token-not-found")
    with sessions() as session:
        entry = session.execute(
            select(AuditEntry).where(AuditEntry.event_type == "vault.detokenized")
        ).scalar_one()
    assert entry.outcome == "failure" and entry.actor == "svc-checkout"
    assert json.loads(entry.details)["purpose"] == "payment.capture"


def test_bad_input_gets_precise_problem_per_item(
    api: TestClient, sessions: sessionmaker[Session]
) -> None:
    items = [
        {"value": "4111111111111111"},
        {"value": "4111111111111112"},  # Luhn
        {"value": "41111111"},  # length
        {"value": "4111-1111-1111-111a"},  # non-digit
        {"value": "4" * 5000},  # oversize
        {"value": "4111111111111111", "format": "pan_first8_last4"},  # token space
        {"value": "4111111111111111", "format": "email_domain"},  # format for another type
    ]
    answer = api.post(
        "/v1/vault/pan/tokens/batch", json={"items": items}, headers={"Authorization": CHECKOUT}
    )
    assert answer.status_code == 200, answer.text
    results = answer.json()["items"]
    assert results[0]["result"]["token"].endswith("1111")
    kinds = [r["error"]["type"].rsplit("/", 1)[1] for r in results[1:]]
    assert kinds == [
        "vault-luhn-failed",
        "vault-value-length",
        "vault-value-malformed",
        "vault-value-too-large",
        "vault-format-refused",
        "vault-format-refused",
    ]
    assert all(r["error"]["status"] == 422 for r in results[1:])
    for r in results[1:]:
        assert "4111" not in json.dumps(r["error"])  # problems never echo the value
    with sessions() as session:
        assert session.execute(select(func.count()).select_from(VaultToken)).scalar_one() == 1

    unknown_type = _tokenize(api, "passport", "X1234567")
    assert unknown_type.status_code == 404 and unknown_type.headers["content-type"] == PROBLEM


def test_batch_over_limit_refused_whole(api: TestClient, sessions: sessionmaker[Session]) -> None:
    items = [{"value": "ada@example.com"}] * 1001
    answer = api.post(
        "/v1/vault/email/tokens/batch", json={"items": items}, headers={"Authorization": CRM}
    )
    assert answer.status_code == 413 and answer.headers["content-type"] == PROBLEM
    huge = b'{"items": [' + b'{"value": "' + b"a" * (9 * 1024 * 1024) + b'"}]}'
    too_big = api.post(
        "/v1/vault/string/tokens/batch",
        content=huge,
        headers={"Authorization": CRM, "Content-Type": "application/json"},
    )
    assert too_big.status_code == 413
    with sessions() as session:
        assert session.execute(select(func.count()).select_from(VaultToken)).scalar_one() == 0


def test_largest_batch_roundtrip(api: TestClient) -> None:
    items = [{"value": f"customer{i}@example.com"} for i in range(1000)]
    answer = api.post(
        "/v1/vault/email/tokens/batch", json={"items": items}, headers={"Authorization": CRM}
    )
    tokens = [r["result"]["token"] for r in answer.json()["items"]]
    assert len(set(tokens)) == 1000
    values = api.post(
        "/v1/vault/email/detokenize/batch",
        json={"tokens": tokens, "purpose": "crm.export"},
        headers={"Authorization": CRM},
    )
    assert [r["result"]["value"] for r in values.json()["items"]] == [i["value"] for i in items]


def test_sad_single_use_over_http(api: TestClient) -> None:
    token = _tokenize(api, "cvc", "737").json()["token"]
    first = api.post(
        "/v1/vault/cvc/detokenize",
        json={"token": token, "purpose": "payment.authorize"},
        headers={"Authorization": CHECKOUT},
    )
    second = api.post(
        "/v1/vault/cvc/detokenize",
        json={"token": token, "purpose": "payment.authorize"},
        headers={"Authorization": CHECKOUT},
    )
    assert first.json()["value"] == "737" and second.status_code == 404


def test_metadata_delete_and_erase_subject(api: TestClient) -> None:
    created = _tokenize(api, "email", "eve@example.com", auth=CRM, subject="cus_42").json()
    meta = api.post(
        "/v1/vault/email/metadata", json={"token": created["token"]}, headers={"Authorization": CRM}
    )
    assert meta.json()["subject"] == "cus_42" and "value" not in meta.json()
    erased = api.post(
        "/v1/vault/subjects/erase", json={"subject": "cus_42"}, headers={"Authorization": CRM}
    )
    assert erased.json() == {"keys_destroyed": 1, "tokens_unreadable": 1}
    gone = api.post(
        "/v1/vault/email/detokenize",
        json={"token": created["token"], "purpose": "crm.lookup"},
        headers={"Authorization": CRM},
    )
    assert gone.status_code == 410 and gone.json()["type"].endswith("/vault-value-erased")
    deleted = api.post(
        "/v1/vault/email/delete", json={"token": created["token"]}, headers={"Authorization": CRM}
    )
    assert deleted.status_code == 200
