"""End-to-end flows on the real app: client credentials, authorization code + PKCE + OpenID,
refresh rotation, introspection, revocation, userinfo, logout; each audited."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from fastapi.testclient import TestClient
from jose import jwt as jose_jwt
from sqlalchemy.orm import Session

from core.settings import Settings
from iam.keys import jws
from iam.oauth2.verification import keys_from_jwks, verify_access_token
from tests.iam.oauth2.support import (
    LOGOUT_REDIRECT_URI,
    REDIRECT_URI,
    audit_events,
    authorize_params,
    basic,
    get_code,
    login,
    make_client,
    pkce_pair,
    query_of,
    redeem,
)


def _jwks(http: TestClient) -> dict[str, Any]:
    response = http.get("/.well-known/jwks.json")
    assert response.status_code == 200
    return dict(response.json())


def test_client_credentials_issues_an_rfc9068_jwt_that_verifies(
    http: TestClient, db: Session, oauth_settings: Settings
) -> None:
    app = make_client(db, scopes=["orders:read", "orders:write"], audiences=["https://orders"])
    response = http.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "orders:read"},
        auth=basic(app),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "orders:read"
    assert response.headers["cache-control"] == "no-store"
    token = body["access_token"]
    header = jws.parse_compact(token).header
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256"
    verified = verify_access_token(
        token,
        keys=keys_from_jwks(_jwks(http)),
        issuer=oauth_settings.issuer,
        audience="https://orders",
    )
    assert verified.claims["client_id"] == app.client_id == verified.claims["sub"]
    # An independent implementation agrees.
    claims = jose_jwt.decode(
        token,
        _jwks(http),
        algorithms=["ES256"],
        audience="https://orders",
        issuer=oauth_settings.issuer,
    )
    assert claims["jti"] == verified.jti
    issued = audit_events(db, "oauth2.token.issued")
    assert [json.loads(e.details)["jti"] for e in issued] == [verified.jti]
    assert token not in issued[0].details


def test_client_secret_post_and_bad_credentials(http: TestClient, db: Session) -> None:
    app = make_client(db, token_endpoint_auth_method="client_secret_post")
    ok = http.post(
        "/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app.client_id,
            "client_secret": app.secret,
        },
    )
    assert ok.status_code == 200, ok.text
    # Basic is not this client's method.
    wrong_method = http.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=basic(app)
    )
    assert wrong_method.json()["error"] == "invalid_client"
    wrong_secret = http.post(
        "/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app.client_id,
            "client_secret": "rps_nope",
        },
    )
    assert (
        wrong_secret.status_code in (400, 401) and wrong_secret.json()["error"] == "invalid_client"
    )


def test_code_flow_with_pkce_id_token_refresh_rotation_and_userinfo(
    http: TestClient, db: Session, user_email: str, oauth_settings: Settings
) -> None:
    app = make_client(db)
    login(http, user_email)
    verifier, challenge = pkce_pair()
    params = authorize_params(app.client_id, challenge)
    response = http.get("/oauth2/authorize?" + urlencode(params))
    assert response.status_code == 302
    location = query_of(response.headers["location"])
    assert response.headers["location"].startswith(REDIRECT_URI + "?")
    assert location["state"] == params["state"] and location["iss"] == oauth_settings.issuer

    tokens = redeem(http, app, location["code"], verifier)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert body["refresh_token"].startswith("rpr_")
    keys = keys_from_jwks(_jwks(http))
    id_token = jose_jwt.decode(
        body["id_token"],
        _jwks(http),
        algorithms=["ES256"],
        audience=app.client_id,
        issuer=oauth_settings.issuer,
        access_token=body["access_token"],  # checks at_hash
    )
    assert id_token["nonce"] == params["nonce"] and id_token["email"] == user_email
    assert id_token["amr"] == ["pwd"] and id_token["acr"] == "urn:rampart:acr:pwd"
    assert "sid" in id_token and "auth_time" in id_token
    access = verify_access_token(
        body["access_token"],
        keys=keys,
        issuer=oauth_settings.issuer,
        audience=oauth_settings.issuer,
    )
    assert access.subject == id_token["sub"] and access.claims["auth_time"] == id_token["auth_time"]

    info = http.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 200 and info.json()["email"] == user_email

    rotated = http.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        auth=basic(app),
    )
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refresh_token"] != body["refresh_token"]
    third = http.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]},
        auth=basic(app),
    )
    assert third.status_code == 200
    generations = [
        json.loads(e.details).get("generation") for e in audit_events(db, "oauth2.token.issued")
    ]
    assert generations == [1, 2, 3]


def test_refresh_reuse_revokes_the_family_and_its_access_tokens(
    http: TestClient, db: Session, user_email: str
) -> None:
    app = make_client(db)
    login(http, user_email)
    verifier, challenge = pkce_pair()
    first = redeem(http, app, get_code(http, app.client_id, challenge), verifier).json()
    second = http.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        auth=basic(app),
    ).json()
    reuse = http.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        auth=basic(app),
    )
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    # The newest generation died with the family, and so did every access token of it.
    newest = http.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]},
        auth=basic(app),
    )
    assert newest.json()["error"] == "invalid_grant"
    for token in (first["access_token"], second["access_token"]):
        assert http.post("/oauth2/introspect", data={"token": token}, auth=basic(app)).json() == {
            "active": False
        }
    reused = audit_events(db, "oauth2.refresh.reused")
    assert len(reused) == 1 and reused[0].outcome == "denied"
    assert first["refresh_token"] not in reused[0].details


def test_introspection_and_revocation(http: TestClient, db: Session) -> None:
    app = make_client(db)
    token = http.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=basic(app)
    ).json()["access_token"]
    unauthenticated = http.post("/oauth2/introspect", data={"token": token})
    assert (
        unauthenticated.status_code == 401 and unauthenticated.json()["error"] == "invalid_client"
    )
    active = http.post("/oauth2/introspect", data={"token": token}, auth=basic(app)).json()
    assert active["active"] is True and active["client_id"] == app.client_id
    assert http.post("/oauth2/revoke", data={"token": token}, auth=basic(app)).status_code == 200
    assert http.post("/oauth2/introspect", data={"token": token}, auth=basic(app)).json() == {
        "active": False
    }
    revoked = audit_events(db, "oauth2.token.revoked")
    assert len(revoked) == 1 and json.loads(revoked[0].details)["jti"] == active["jti"]


def test_logout_with_id_token_hint_redirects_exactly_and_ends_the_session(
    http: TestClient, db: Session, user_email: str
) -> None:
    app = make_client(db)
    login(http, user_email)
    verifier, challenge = pkce_pair()
    body = redeem(http, app, get_code(http, app.client_id, challenge), verifier).json()
    bad = http.get(
        "/oauth2/logout",
        params={
            "id_token_hint": body["id_token"],
            "post_logout_redirect_uri": "https://evil.example/",
        },
    )
    assert bad.status_code == 400 and "location" not in bad.headers
    out = http.get(
        "/oauth2/logout",
        params={
            "id_token_hint": body["id_token"],
            "post_logout_redirect_uri": LOGOUT_REDIRECT_URI,
            "state": "bye",
        },
    )
    assert out.status_code == 303 and out.headers["location"] == LOGOUT_REDIRECT_URI + "?state=bye"
    # The session is gone: authorizing again sends the browser to /login.
    again = http.get("/oauth2/authorize?" + urlencode(authorize_params(app.client_id, challenge)))
    assert again.status_code == 303 and again.headers["location"].startswith("/login?")
    refreshed = http.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        auth=basic(app),
    )
    assert refreshed.json()["error"] == "invalid_grant"


def test_third_party_client_needs_consent(http: TestClient, db: Session, user_email: str) -> None:
    app = make_client(db, name="partner", first_party=False)
    login(http, user_email)
    _verifier, challenge = pkce_pair()
    page = http.get("/oauth2/authorize?" + urlencode(authorize_params(app.client_id, challenge)))
    assert page.status_code == 200 and "wants to access your account" in page.text
    assert "form-action 'self' http://127.0.0.1:9999" in page.headers["content-security-policy"]
    import re

    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    form = {**authorize_params(app.client_id, challenge), "csrf_token": csrf.group(1)}
    forged = http.post("/oauth2/authorize", data={**form, "csrf_token": "x", "decision": "allow"})
    assert forged.status_code == 400 and "location" not in forged.headers
    denied = http.post("/oauth2/authorize", data={**form, "decision": "deny"})
    assert query_of(denied.headers["location"])["error"] == "access_denied"
    allowed = http.post("/oauth2/authorize", data={**form, "decision": "allow"})
    assert "code" in query_of(allowed.headers["location"])


def test_discovery_documents(http: TestClient, oauth_settings: Settings) -> None:
    from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

    oidc = http.get("/.well-known/openid-configuration").json()
    rfc8414 = http.get("/.well-known/oauth-authorization-server").json()
    assert oidc == rfc8414
    assert oidc["issuer"] == oauth_settings.issuer
    assert oidc["code_challenge_methods_supported"] == ["S256"]
    assert oidc["authorization_response_iss_parameter_supported"] is True
    AuthorizationServerMetadata(oidc).validate()
