"""Introspection (RFC 7662, iam.oauth2.introspection): access tokens by signature with exact
revocation, refresh tokens only for the client they were issued to, RFC 7662 §2.3 errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from iam.oauth2 import client_cache
from tests.iam.oauth2.support import (
    audit_events,
    basic,
    get_code,
    login,
    make_client,
    pkce_pair,
    redeem,
)


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    client_cache.clear_client_cache()
    yield
    client_cache.clear_client_cache()


def _issue(http: TestClient, app: object) -> str:
    response = http.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=basic(app),  # type: ignore[arg-type]
    )
    assert response.status_code == 200
    return str(response.json()["access_token"])


def test_access_token_and_exact_revocation(http: TestClient, db: Session) -> None:
    app = make_client(db, audiences=["https://orders"])
    reader = make_client(db, name="resource-server", grant_types=["client_credentials"])
    token = _issue(http, app)
    for who in (app, reader, reader):  # any confidential client; then from the warm caches
        answer = http.post("/oauth2/introspect", data={"token": token}, auth=basic(who))
        assert answer.status_code == 200
        body = answer.json()
        assert body["active"] is True and body["client_id"] == app.client_id
        assert "https://orders" in body["aud"] and body["token_type"] == "Bearer"
        assert answer.headers["cache-control"] == "no-store"
    revoked = http.post("/oauth2/revoke", data={"token": token}, auth=basic(app))
    assert revoked.status_code == 200
    after = http.post("/oauth2/introspect", data={"token": token}, auth=basic(reader))
    assert after.json() == {"active": False}
    assert audit_events(db, "oauth2.token.revoked")


def test_errors_and_inactive_answers(http: TestClient, db: Session) -> None:
    app = make_client(db)
    missing = http.post("/oauth2/introspect", data={}, auth=basic(app))
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")
    hint = http.post(
        "/oauth2/introspect", data={"token": "x", "token_type_hint": "id_token"}, auth=basic(app)
    )
    assert hint.json()["error"] == "unsupported_token_type"
    for garbage in ("a.b.c", "opaque", "rpr_no-such-refresh-token", ""):
        answer = http.post("/oauth2/introspect", data={"token": garbage}, auth=basic(app))
        assert answer.json() == {"active": False}, garbage
    unauthenticated = http.post("/oauth2/introspect", data={"token": _issue(http, app)})
    assert (unauthenticated.status_code, unauthenticated.json()["error"]) == (401, "invalid_client")


def test_refresh_token_only_for_its_client(http: TestClient, db: Session, user_email: str) -> None:
    app = make_client(db)
    other = make_client(db, name="another-service")
    login(http, user_email)
    verifier, challenge = pkce_pair()
    issued = redeem(http, app, get_code(http, app.client_id, challenge), verifier).json()
    refresh = issued["refresh_token"]
    mine = http.post("/oauth2/introspect", data={"token": refresh}, auth=basic(app)).json()
    assert mine["active"] is True and mine["token_type"] == "refresh_token"
    assert mine["client_id"] == app.client_id and refresh not in str(mine)
    theirs = http.post("/oauth2/introspect", data={"token": refresh}, auth=basic(other))
    assert theirs.json() == {"active": False}
    http.post("/oauth2/revoke", data={"token": refresh}, auth=basic(app))
    gone = http.post("/oauth2/introspect", data={"token": refresh}, auth=basic(app))
    assert gone.json() == {"active": False}
