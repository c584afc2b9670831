"""Every error is RFC 9457 problem+json with a stable type: 404, 405, 422, Rampart errors, 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from core.errors import Conflict, KmsUnavailable
from core.settings import Settings
from server.app import create_app
from tests.server.conftest import capture_logs, log_events

PROBLEMS = "https://rampart.dev/problems/"
PAN = "4111111111111111"


class Card(BaseModel):
    number: int
    holder: str


def _app_with_test_routes(http_settings: Settings) -> FastAPI:
    app = create_app(http_settings)

    @app.get("/test/boom")
    def boom() -> dict[str, str]:
        raise RuntimeError(f"secret detail password=hunter2 card {PAN}")

    @app.get("/test/conflict")
    def conflict() -> dict[str, str]:
        raise Conflict("the name is taken", name="shop-api")

    @app.get("/test/kms-down")
    def kms_down() -> dict[str, str]:
        raise KmsUnavailable("transit unreachable")

    @app.post("/test/cards")
    def create_card(card: Card) -> dict[str, str]:
        return {"holder": card.holder}

    return app


@pytest.fixture
def test_client(http_settings: Settings) -> Iterator[TestClient]:
    with TestClient(_app_with_test_routes(http_settings), raise_server_exceptions=False) as client:
        yield client


def _problem(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code
    assert isinstance(body["title"], str) and body["title"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["instance"] == f"urn:rampart:request:{body['request_id']}"
    return body


def test_unknown_path_is_a_not_found_problem(test_client: TestClient) -> None:
    response = test_client.get("/no/such/thing")
    assert response.status_code == 404
    assert _problem(response)["type"] == PROBLEMS + "not-found"


def test_wrong_method_is_a_method_not_allowed_problem_with_allow(test_client: TestClient) -> None:
    response = test_client.delete("/healthz")
    assert response.status_code == 405
    assert _problem(response)["type"] == PROBLEMS + "method-not-allowed"
    assert response.headers["allow"] == "GET"


def test_invalid_body_is_a_validation_problem_that_never_echoes_input(
    test_client: TestClient,
) -> None:
    response = test_client.post(
        "/test/cards", json={"number": f"card {PAN} password=hunter2", "extra": 1}
    )
    assert response.status_code == 422
    body = _problem(response)
    assert body["type"] == PROBLEMS + "validation"
    errors = body["errors"]
    assert isinstance(errors, list)
    assert {tuple(error["loc"]) for error in errors} == {("body", "number"), ("body", "holder")}
    assert all(set(error) == {"loc", "msg", "type"} for error in errors)
    assert PAN not in response.text
    assert "hunter2" not in response.text


def test_malformed_json_is_a_validation_problem(test_client: TestClient) -> None:
    response = test_client.post(
        "/test/cards", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert _problem(response)["type"] == PROBLEMS + "validation"


def test_rampart_error_keeps_its_type_and_extensions(test_client: TestClient) -> None:
    response = test_client.get("/test/conflict")
    assert response.status_code == 409
    body = _problem(response)
    assert body["type"] == PROBLEMS + "conflict"
    assert body["detail"] == "the name is taken"
    assert body["name"] == "shop-api"


def test_unavailable_dependency_is_a_503_problem(test_client: TestClient) -> None:
    response = test_client.get("/test/kms-down")
    assert response.status_code == 503
    assert _problem(response)["type"] == PROBLEMS + "kms-unavailable"


def test_unexpected_error_is_an_internal_problem_without_traceback(
    test_client: TestClient, http_settings: Settings
) -> None:
    logs = capture_logs(http_settings)
    response = test_client.get("/test/boom")
    assert response.status_code == 500
    body = _problem(response)
    assert body["type"] == PROBLEMS + "internal"
    for leaked in ("Traceback", "RuntimeError", "hunter2", PAN, "secret detail", "boom"):
        assert leaked not in response.text
    # Logged server-side with its traceback, masked.
    logged = logs.getvalue()
    assert "hunter2" not in logged
    assert PAN not in logged
    [event] = [e for e in log_events(logs) if e["event"] == "unhandled error"]
    assert event["level"] == "error"
    assert event["request_id"] == body["request_id"]
    assert "Traceback" in event["exception"]
    assert "RuntimeError: secret detail password=[REDACTED] card [REDACTED]" in event["exception"]
