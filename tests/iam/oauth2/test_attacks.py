"""Attacks refused, at the resource side (the reference verifier) and at the provider's endpoints
(introspection, token, authorize, userinfo)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from core.settings import Settings
from iam.keys import jws
from iam.keys.service import active_signing_key, verification_key
from iam.oauth2.verification import TokenRejected, keys_from_jwks, verify_access_token
from tests.iam.oauth2.support import (
    REDIRECT_URI,
    RegisteredApp,
    authorize_params,
    basic,
    get_code,
    login,
    make_client,
    pkce_pair,
    query_of,
    redeem,
)

AUDIENCE = "https://orders.example"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(issuer: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer, "sub": "svc", "aud": AUDIENCE, "client_id": "svc", "scope": "orders:read",
        "jti": "jti-" + str(now), "iat": now, "nbf": now, "exp": now + 300,
    }  # fmt: skip
    claims.update(overrides)
    return claims


def _signed(db: Session, claims: dict[str, Any], **header: Any) -> str:
    key = active_signing_key(db)
    db.commit()  # keep a key created here; SQLite: release the write lock for the app
    return jws.sign_compact(
        {"alg": key.alg, "typ": "at+jwt", "kid": key.kid, **header}, claims, key.private_key
    )


@pytest.fixture
def service_app(db: Session) -> RegisteredApp:
    return make_client(db, name="orders-api", scopes=["orders:read"], audiences=[AUDIENCE])


@pytest.fixture
def genuine(http: TestClient, service_app: RegisteredApp) -> str:
    response = http.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=basic(service_app)
    )
    assert response.status_code == 200
    return str(response.json()["access_token"])


def _verify(http: TestClient, settings: Settings, token: str) -> None:
    keys = keys_from_jwks(http.get("/.well-known/jwks.json").json())
    verify_access_token(token, keys=keys, issuer=settings.issuer, audience=AUDIENCE)


def _refused_everywhere(
    http: TestClient, settings: Settings, app: RegisteredApp, token: str, reason: str
) -> None:
    with pytest.raises(TokenRejected) as refused:
        _verify(http, settings, token)
    assert refused.value.reason == reason
    introspected = http.post("/oauth2/introspect", data={"token": token}, auth=basic(app))
    assert introspected.status_code == 200 and introspected.json() == {"active": False}


def test_the_genuine_token_passes(
    http: TestClient, oauth_settings: Settings, service_app: RegisteredApp, genuine: str
) -> None:
    _verify(http, oauth_settings, genuine)
    assert http.post("/oauth2/introspect", data={"token": genuine}, auth=basic(service_app)).json()[
        "active"
    ]


def test_alg_none_is_refused(
    http: TestClient, oauth_settings: Settings, service_app: RegisteredApp, genuine: str
) -> None:
    parsed = jws.parse_compact(genuine)
    header = {**parsed.header, "alg": "none"}
    token = _b64(json.dumps(header).encode()) + "." + genuine.split(".")[1] + "."
    _refused_everywhere(http, oauth_settings, service_app, token, "algorithm not allowed")


def test_hs256_signed_with_the_public_key_is_refused(
    http: TestClient,
    db: Session,
    oauth_settings: Settings,
    service_app: RegisteredApp,
    genuine: str,
) -> None:
    kid = jws.parse_compact(genuine).header["kid"]
    found = verification_key(db, kid)
    db.rollback()
    assert found is not None
    public_pem = found[1].public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": kid}).encode())
    payload = genuine.split(".")[1]
    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    token = f"{header}.{payload}.{_b64(signature)}"
    _refused_everywhere(http, oauth_settings, service_app, token, "algorithm not allowed")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"nbf": int(time.time()) + 3600}, "not yet valid"),
        ({"iss": "https://evil.example"}, "wrong issuer"),
    ],
    ids=["expired", "not-yet-valid", "wrong-iss"],
)
def test_time_and_issuer_claims_are_checked(
    http: TestClient,
    db: Session,
    oauth_settings: Settings,
    service_app: RegisteredApp,
    overrides: dict[str, Any],
    reason: str,
) -> None:
    token = _signed(db, _claims(oauth_settings.issuer, **overrides))
    _refused_everywhere(http, oauth_settings, service_app, token, reason)


def test_wrong_audience_is_refused_by_the_resource(
    http: TestClient, db: Session, oauth_settings: Settings
) -> None:
    token = _signed(db, _claims(oauth_settings.issuer, aud="https://payments.example"))
    with pytest.raises(TokenRejected, match="wrong audience"):
        _verify(http, oauth_settings, token)


def test_unknown_kid_is_refused(
    http: TestClient, db: Session, oauth_settings: Settings, service_app: RegisteredApp
) -> None:
    token = _signed(db, _claims(oauth_settings.issuer), kid="not-a-key-of-ours")
    _refused_everywhere(http, oauth_settings, service_app, token, "unknown kid")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.split(".")[0] + "." + _b64(b'{"sub":"admin"}') + "." + t.split(".")[2],
        lambda t: t[:-6] + ("AAAAAA" if not t.endswith("AAAAAA") else "BBBBBB"),
    ],
    ids=["payload", "signature"],
)
def test_tampered_tokens_are_refused(
    http: TestClient,
    oauth_settings: Settings,
    service_app: RegisteredApp,
    genuine: str,
    tamper: Callable[[str], str],
) -> None:
    _refused_everywhere(http, oauth_settings, service_app, tamper(genuine), "bad signature")


def test_id_token_presented_as_access_token_is_refused(
    http: TestClient, db: Session, user_email: str, oauth_settings: Settings
) -> None:
    app = make_client(db)
    login(http, user_email)
    verifier, challenge = pkce_pair()
    body = redeem(http, app, get_code(http, app.client_id, challenge), verifier).json()
    id_token = body["id_token"]
    keys = keys_from_jwks(http.get("/.well-known/jwks.json").json())
    with pytest.raises(TokenRejected, match="not an access token"):
        verify_access_token(
            id_token, keys=keys, issuer=oauth_settings.issuer, audience=app.client_id
        )
    assert (
        http.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {id_token}"}).status_code
        == 401
    )
    assert http.post("/oauth2/introspect", data={"token": id_token}, auth=basic(app)).json() == {
        "active": False
    }


def test_code_replay_is_refused_and_revokes_what_the_code_issued(
    http: TestClient, db: Session, user_email: str
) -> None:
    app = make_client(db)
    login(http, user_email)
    verifier, challenge = pkce_pair()
    code = get_code(http, app.client_id, challenge)
    first = redeem(http, app, code, verifier)
    assert first.status_code == 200
    replay = redeem(http, app, code, verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    issued = first.json()
    assert http.post(
        "/oauth2/introspect", data={"token": issued["access_token"]}, auth=basic(app)
    ).json() == {"active": False}
    refresh = http.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]},
        auth=basic(app),
    )
    assert refresh.json()["error"] == "invalid_grant"


def test_pkce_is_required_s256_only_and_checked(
    http: TestClient, db: Session, user_email: str
) -> None:
    app = make_client(db)
    login(http, user_email)
    challenge = pkce_pair()[1]
    for extra in ({"code_challenge_method": "plain"}, {"code_challenge": ""}):
        params = {k: v for k, v in authorize_params(app.client_id, challenge, **extra).items() if v}
        refused = http.get("/oauth2/authorize?" + urlencode(params))
        assert refused.status_code == 302
        assert query_of(refused.headers["location"])["error"] == "invalid_request"
    code = get_code(http, app.client_id, challenge)
    other_verifier, _ = pkce_pair()
    mismatch = redeem(http, app, code, other_verifier)
    assert mismatch.status_code == 400 and mismatch.json()["error"] == "invalid_grant"
    missing = redeem(http, app, get_code(http, app.client_id, challenge), "")
    assert missing.json()["error"] in ("invalid_request", "invalid_grant")


def test_unregistered_redirect_uri_gets_an_error_page_never_a_redirect(
    http: TestClient, db: Session, user_email: str
) -> None:
    app = make_client(db)
    login(http, user_email)
    challenge = pkce_pair()[1]
    for uri in ("https://evil.example/cb", REDIRECT_URI + "/extra", REDIRECT_URI.upper()):
        response = http.get(
            "/oauth2/authorize?"
            + urlencode(authorize_params(app.client_id, challenge, redirect_uri=uri))
        )
        assert response.status_code == 400 and "location" not in response.headers
        assert "text/html" in response.headers["content-type"]
    unknown_client = http.get(
        "/oauth2/authorize?" + urlencode(authorize_params("nobody", challenge))
    )
    assert unknown_client.status_code == 400 and "location" not in unknown_client.headers


def test_login_csrf_is_refused(http: TestClient, user_email: str) -> None:
    forged = http.post(
        "/login", data={"email": user_email, "password": "x", "csrf_token": "forged", "next": "/"}
    )
    assert forged.status_code == 403 and "location" not in forged.headers
