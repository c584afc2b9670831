"""Malformed requests get RFC 6749 (or RFC 6750) errors, or an error page on the browser-facing
endpoints, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.iam.oauth2.support import RegisteredApp, basic, make_client

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def app(db: Session) -> RegisteredApp:
    return make_client(db, scopes=["orders:read"], audiences=["https://orders"])


TOKEN_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("no body", {}, "invalid_request"),
    ("json body", {"json": {"grant_type": "client_credentials"}}, "invalid_request"),
    ("bad utf-8", {"content": b"grant_type=%ff%fe", "headers": FORM}, "invalid_request"),
    ("repeated", {"content": b"grant_type=client_credentials&grant_type=client_credentials", "headers": FORM}, "invalid_request"),  # noqa: E501
    ("unknown grant", {"data": {"grant_type": "password", "username": "a", "password": "b"}}, "unsupported_grant_type"),  # noqa: E501
    ("code missing", {"data": {"grant_type": "authorization_code"}}, "invalid_request"),
    ("unknown code", {"data": {"grant_type": "authorization_code", "code": "x" * 43, "code_verifier": "v" * 43}}, "invalid_grant"),  # noqa: E501
    ("garbage refresh", {"data": {"grant_type": "refresh_token", "refresh_token": "rpr_nope"}}, "invalid_grant"),  # noqa: E501
    ("scope not allowed", {"data": {"grant_type": "client_credentials", "scope": "admin"}}, "invalid_scope"),  # noqa: E501
    ("resource not allowed", {"data": {"grant_type": "client_credentials", "resource": "https://payments"}}, "invalid_target"),  # noqa: E501
    ("huge body", {"content": b"grant_type=" + b"a" * 70000, "headers": FORM}, "invalid_request"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "kwargs", "error"), TOKEN_CASES, ids=[c[0] for c in TOKEN_CASES])
def test_token_endpoint_errors(
    http: TestClient, app: RegisteredApp, case: str, kwargs: dict[str, Any], error: str
) -> None:
    response = http.post("/oauth2/token", auth=basic(app), **kwargs)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"] == error
    assert response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    "authorization",
    ["Basic !!!not-base64", "Basic " + "YQ==", "Bearer abc", "Basic " + "bm9ib2R5Om5vdGhpbmc="],
    ids=["not-base64", "no-colon", "bearer", "unknown-client"],
)
def test_token_endpoint_bad_client_authentication(http: TestClient, authorization: str) -> None:
    response = http.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": authorization},
    )
    assert response.status_code in (400, 401) and response.json()["error"] == "invalid_client"


def test_introspection_and_revocation_errors(http: TestClient, app: RegisteredApp) -> None:
    assert (
        http.post("/oauth2/introspect", data={}, auth=basic(app)).json()["error"]
        == "invalid_request"
    )
    assert http.post("/oauth2/introspect", data={"token": "x"}).json()["error"] == "invalid_client"
    for garbage in ("x", "a.b.c", "rpr_" + "z" * 40, "e30.e30.e30"):
        introspected = http.post("/oauth2/introspect", data={"token": garbage}, auth=basic(app))
        assert introspected.json() == {"active": False}
        assert (
            http.post("/oauth2/revoke", data={"token": garbage}, auth=basic(app)).status_code == 200
        )
    assert (
        http.post("/oauth2/revoke", data={}, auth=basic(app)).json()["error"] == "invalid_request"
    )
    hint = http.post(
        "/oauth2/revoke", data={"token": "x", "token_type_hint": "id_token"}, auth=basic(app)
    )
    assert hint.json()["error"] == "unsupported_token_type"


def test_authorization_endpoint_errors(http: TestClient, app: RegisteredApp) -> None:
    missing = http.get("/oauth2/authorize")
    assert missing.status_code == 400 and "location" not in missing.headers
    bad_utf8 = http.get("/oauth2/authorize?client_id=%ff")
    assert bad_utf8.status_code == 400
    wrong_type = http.get(
        "/oauth2/authorize",
        params={
            "response_type": "token",
            "client_id": app.client_id,
            "redirect_uri": "http://127.0.0.1:9999/callback",
        },
    )
    assert wrong_type.status_code == 302
    assert "error=unsupported_response_type" in wrong_type.headers["location"]
    assert "iss=" in wrong_type.headers["location"]
    # Found by the OpenAPI fuzz: authlib cannot echo a non-ASCII response_type (was a 500).
    control_chars = http.get(
        "/oauth2/authorize",
        params={"response_type": "\x94\U000a08d3\x17", "client_id": app.client_id},
    )
    assert control_chars.status_code == 400
    assert "ASCII" in control_chars.text
    # Found by wapiti: a NUL reached the client lookup, which PostgreSQL refuses (was a 500).
    nul = http.get("/oauth2/authorize", params={"response_type": "code", "client_id": "a\x00"})
    assert nul.status_code == 400
    token = http.post(
        "/oauth2/token", data={"grant_type": "client_credentials", "client_id": "\x00"}
    )
    assert token.status_code == 400 and token.json()["error"] == "invalid_request"


def test_userinfo_errors(http: TestClient) -> None:
    none = http.get("/oauth2/userinfo")
    assert none.status_code == 401 and none.headers["www-authenticate"] == "Bearer"
    basic_scheme = http.get("/oauth2/userinfo", headers={"Authorization": "Basic abc"})
    assert basic_scheme.status_code == 400 and basic_scheme.json()["error"] == "invalid_request"
    garbage = http.get("/oauth2/userinfo", headers={"Authorization": "Bearer a.b.c"})
    assert (
        garbage.status_code == 401
        and 'error="invalid_token"' in garbage.headers["www-authenticate"]
    )


def test_logout_errors(http: TestClient) -> None:
    bad_hint = http.get("/oauth2/logout", params={"id_token_hint": "a.b.c"})
    assert bad_hint.status_code == 400 and "location" not in bad_hint.headers
    unregistered = http.get(
        "/oauth2/logout", params={"post_logout_redirect_uri": "https://evil.example"}
    )
    assert unregistered.status_code == 400 and "location" not in unregistered.headers
