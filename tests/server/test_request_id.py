"""Request ids: generated or accepted when sane, echoed, and set in the acting context."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core import context
from core.settings import Settings
from server.app import create_app


@pytest.fixture
def app_reporting_context(http_settings: Settings) -> FastAPI:
    app = create_app(http_settings)

    @app.get("/test/context")
    def acting_context() -> dict[str, str | None]:
        acting = context.current()
        return {"request_id": acting.request_id, "actor": acting.actor, "origin": acting.origin}

    return app


def test_a_request_id_is_generated_echoed_and_in_context(app_reporting_context: FastAPI) -> None:
    with TestClient(app_reporting_context) as client:
        first = client.get("/test/context")
        second = client.get("/test/context")
    request_id = first.headers["x-request-id"]
    assert request_id.startswith("req_")
    assert first.json() == {"request_id": request_id, "actor": "anonymous", "origin": "testclient"}
    assert second.headers["x-request-id"] != request_id
    # Outside a request the context is back to the default.
    assert context.current().request_id is None


def test_a_sane_incoming_request_id_is_kept(app_reporting_context: FastAPI) -> None:
    with TestClient(app_reporting_context) as client:
        response = client.get("/test/context", headers={"X-Request-ID": "lb-7f3a.9:1"})
    assert response.headers["x-request-id"] == "lb-7f3a.9:1"
    assert response.json()["request_id"] == "lb-7f3a.9:1"


@pytest.mark.parametrize(
    "incoming", ["", "x" * 129, "has space", 'inject"quote', "semi;colon", "ünïcode"]
)
def test_an_insane_incoming_request_id_is_replaced(
    app_reporting_context: FastAPI, incoming: str
) -> None:
    with TestClient(app_reporting_context) as client:
        response = client.get("/test/context", headers={"X-Request-ID": incoming.encode()})
    assert response.headers["x-request-id"].startswith("req_")
    assert response.headers["x-request-id"] != incoming
