"""Security headers on every response (200, 404, 500), CSP per path prefix, HSTS only over https."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient

from core.settings import Settings
from server.app import create_app
from server.body_limit import BodyLimits
from server.middleware import API_CSP, EdgeMiddleware, SecurityHeaderPolicy

ALWAYS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cache-control": "no-store",
    "content-security-policy": API_CSP,
}


@pytest.fixture
def app_with_failure(http_settings: Settings) -> FastAPI:
    app = create_app(http_settings)

    @app.get("/test/boom")
    def boom() -> None:
        raise RuntimeError("unexpected")

    return app


@pytest.mark.parametrize(
    ("path", "status"), [("/healthz", 200), ("/nope", 404), ("/test/boom", 500)]
)
def test_every_response_carries_the_security_headers(
    app_with_failure: FastAPI, path: str, status: int
) -> None:
    with TestClient(app_with_failure, raise_server_exceptions=False) as client:
        response = client.get(path)
    assert response.status_code == status
    for name, value in ALWAYS.items():
        assert response.headers[name] == value, name
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "strict-transport-security" not in response.headers  # plain http


def test_hsts_is_sent_over_https_with_the_configured_max_age(http_settings: Settings) -> None:
    with TestClient(create_app(http_settings), base_url="https://testserver") as client:
        response = client.get("/healthz")
    assert response.headers["strict-transport-security"] == f"max-age={http_settings.hsts_seconds}"


def test_validation_errors_carry_the_headers_too(http_settings: Settings) -> None:
    app = create_app(http_settings)

    @app.get("/test/items/{item_id}")
    def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    with TestClient(app) as client:
        response = client.get("/test/items/not-a-number")
    assert response.status_code == 422
    assert response.headers["x-frame-options"] == "DENY"


def _bare_app(policy: SecurityHeaderPolicy) -> FastAPI:
    app = FastAPI()

    @app.get("/login")
    def login() -> PlainTextResponse:
        return PlainTextResponse("page")

    @app.get("/api")
    def api() -> PlainTextResponse:
        return PlainTextResponse("api", headers={"cache-control": "max-age=60"})

    app.add_middleware(EdgeMiddleware, policy=policy, body_limits=BodyLimits(1024 * 1024))
    return app


def test_longest_prefix_chooses_the_csp_and_endpoint_headers_win() -> None:
    policy = SecurityHeaderPolicy(
        csp_by_prefix=(("/log", "default-src 'none'"), ("/login", "style-src 'self'"))
    )
    with TestClient(_bare_app(policy)) as client:
        login = client.get("/login")
        api = client.get("/api")
    assert login.headers["content-security-policy"] == "style-src 'self'"
    assert api.headers["content-security-policy"] == API_CSP
    assert api.headers["cache-control"] == "max-age=60"  # the endpoint's own value is kept


def test_forwarded_proto_is_believed_only_from_trusted_proxies() -> None:
    forwarded = {"x-forwarded-proto": "https"}
    untrusted = SecurityHeaderPolicy(hsts_seconds=60)
    with TestClient(_bare_app(untrusted)) as client:
        assert "strict-transport-security" not in client.get("/api", headers=forwarded).headers
    # TestClient's peer address is "testclient".
    trusted = SecurityHeaderPolicy(hsts_seconds=60, trusted_proxies=frozenset({"testclient"}))
    with TestClient(_bare_app(trusted)) as client:
        assert client.get("/api", headers=forwarded).headers["strict-transport-security"] == (
            "max-age=60"
        )
        assert "strict-transport-security" not in client.get("/api").headers
    other = SecurityHeaderPolicy(hsts_seconds=60, trusted_proxies=frozenset({"10.0.0.1"}))
    with TestClient(_bare_app(other)) as client:
        assert "strict-transport-security" not in client.get("/api", headers=forwarded).headers
