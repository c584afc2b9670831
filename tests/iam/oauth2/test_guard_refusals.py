"""A 401 from a `/v1` route says why the presented token was refused (expired, wrong audience,
revoked, bad signature, unknown key, malformed) in the problem's ``detail`` and ``reason``, on
the routed guard and on the vault's hot path alike, without echoing the token."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from iam.keys import jws
from iam.keys.service import active_signing_key
from tests.iam.oauth2.support import RegisteredApp, basic, make_client

GUARDED = "/v1/policies"
HOT_PATH = "/v1/vault/pan/tokens"


@pytest.fixture
def service(db: Session) -> RegisteredApp:
    return make_client(db, name="refused-svc")


@pytest.fixture
def access_token(http: TestClient, service: RegisteredApp) -> str:
    response = http.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=basic(service)
    )
    assert response.status_code == 200
    return str(response.json()["access_token"])


def _resigned(db: Session, token: str, **changes: Any) -> str:
    """The token with some claims changed, signed again with the issuer's own key: a genuine
    signature over claims this server refuses."""
    parsed = jws.parse_compact(token)
    key = active_signing_key(db)
    return jws.sign_compact(parsed.header, {**parsed.claims, **changes}, key.private_key)


def _refusal(http: TestClient, token: str, *, hot: bool = False) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    if hot:
        response = http.post(HOT_PATH, json={"value": "4111111111111111"}, headers=headers)
    else:
        response = http.get(GUARDED, headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert token not in response.text
    body: dict[str, Any] = response.json()
    assert body["type"] == "https://rampart.dev/problems/unauthenticated"
    return body


def test_expired_and_wrong_audience_say_so(
    http: TestClient, db: Session, access_token: str
) -> None:
    expired = _resigned(db, access_token, exp=int(time.time()) - 600, iat=int(time.time()) - 900)
    body = _refusal(http, expired)
    assert (body["reason"], body["detail"]) == ("expired", "the access token has expired")

    elsewhere = _resigned(db, access_token, aud="https://orders.shop.example")
    body = _refusal(http, elsewhere)
    assert body["reason"] == "wrong-audience"
    assert body["detail"] == "the access token is not addressed to this server"


def test_bad_signature_unknown_key_and_malformed_say_so(
    http: TestClient, access_token: str
) -> None:
    head, payload, signature = access_token.split(".")
    tampered = f"{head}.{payload}.{signature[::-1]}"
    assert _refusal(http, tampered)["reason"] == "bad-signature"

    parsed = jws.parse_compact(access_token)
    stranger = jws.generate_private_key(parsed.header["alg"])
    unknown = jws.sign_compact({**parsed.header, "kid": "not-ours"}, parsed.claims, stranger)
    assert _refusal(http, unknown)["reason"] == "unknown-key"

    body = _refusal(http, "not-a-jwt")
    assert body["reason"] == "malformed"


def test_a_forged_token_learns_bad_signature_not_its_claims_faults(
    http: TestClient, access_token: str
) -> None:
    # Expired and addressed elsewhere, but signed by a stranger's key under our kid: the
    # answer is about the signature only, so guesses about claims cannot be tested.
    parsed = jws.parse_compact(access_token)
    stranger = jws.generate_private_key(parsed.header["alg"])
    forged = jws.sign_compact(
        parsed.header, {**parsed.claims, "exp": 1, "aud": "https://x.test"}, stranger
    )
    assert _refusal(http, forged)["reason"] == "bad-signature"


def test_a_revoked_token_says_revoked(
    http: TestClient, service: RegisteredApp, access_token: str
) -> None:
    assert http.get(GUARDED, headers={"Authorization": f"Bearer {access_token}"}).status_code in {
        200,
        403,
    }
    revoked = http.post("/oauth2/revoke", data={"token": access_token}, auth=basic(service))
    assert revoked.status_code == 200
    body = _refusal(http, access_token)
    assert (body["reason"], body["detail"]) == ("revoked", "the access token has been revoked")


def test_the_vault_hot_path_gives_the_same_detail(
    http: TestClient, db: Session, access_token: str
) -> None:
    expired = _resigned(db, access_token, exp=int(time.time()) - 600, iat=int(time.time()) - 900)
    body = _refusal(http, expired, hot=True)
    assert (body["reason"], body["detail"]) == ("expired", "the access token has expired")
    assert _refusal(http, "not-a-jwt", hot=True)["reason"] == "malformed"


def test_no_token_keeps_the_plain_answer(http: TestClient) -> None:
    response = http.get(GUARDED)
    assert response.status_code == 401
    assert response.json()["detail"] == "a valid bearer access token is required"
    assert "reason" not in response.json()
