"""A JSON body naming a key twice is refused with 400 (issue 12 item 10), at any depth, on every
operation of the real application, parsed once by FastAPI with core.strict_json; the problem
names the key, never a value."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from core import strict_json
from core.settings import Settings
from core.strict_json import StrictJsonRoute
from server.app import create_app

PROBLEM = "application/problem+json"
DUPLICATE = "https://rampart.dev/problems/duplicate-json-key"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def client(http_settings: Settings) -> Iterator[TestClient]:
    app = create_app(http_settings)

    @app.post("/test/echo")
    def echo(body: dict[str, Any]) -> dict[str, Any]:
        return body

    with TestClient(app) as api:
        yield api


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (b'{"amount": 1, "amount": 1000000}', "amount"),
        (b'{"order": {"lines": [{"sku": "a", "qty": 1, "qty": 99}]}}', "qty"),
        (b'{"card": "4111111111111111", "card": "4242424242424242"}', "card"),
    ],
    ids=["top-level", "nested", "secret-values"],
)
def test_duplicate_keys_are_refused_naming_the_key(
    client: TestClient, body: bytes, key: str
) -> None:
    answer = client.post("/test/echo", content=body, headers=JSON)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == PROBLEM
    problem = answer.json()
    assert problem["type"] == DUPLICATE and problem["key"] == key
    assert key in problem["detail"]
    echoed = str({k: v for k, v in problem.items() if k not in ("instance", "request_id")})
    for value in ("1000000", "99", "4111111111111111", "4242424242424242"):
        assert value not in echoed  # values are never echoed


def test_json_media_types_are_all_checked_and_other_bodies_untouched(client: TestClient) -> None:
    plus_json = client.post(
        "/test/echo", content=b'{"a": 1, "a": 2}', headers={"Content-Type": "application/x+json"}
    )
    assert plus_json.status_code == 400 and plus_json.json()["type"] == DUPLICATE
    assert client.post("/test/echo", json={"a": 1, "b": {"a": 2}}).json() == {"a": 1, "b": {"a": 2}}
    # Not JSON at all: the operation's own validation answers, as before.
    assert client.post("/test/echo", content=b"{", headers=JSON).status_code == 422


def test_a_key_that_looks_like_a_card_number_is_masked() -> None:
    with pytest.raises(strict_json.DuplicateJsonKey) as refused:
        strict_json.loads(b'{"4111111111111111": 1, "4111111111111111": 2}')
    assert "4111111111111111" not in refused.value.detail
    assert "4111111111111111" not in str(refused.value.extensions)


def test_every_operation_parses_with_the_strict_parser(http_settings: Settings) -> None:
    """One parser, once per request: every operation the app serves is a StrictJsonRoute, so
    FastAPI's own body handling is the strict parse (a router without it would parse with the
    standard json module and keep the last of two values)."""
    app = create_app(http_settings)
    routes = [c.original_route for c in iter_route_contexts(app.routes)]
    operations = [route for route in routes if isinstance(route, APIRoute)]
    assert len(operations) > 50  # the walk saw the domain routers
    assert [route.path for route in operations if not isinstance(route, StrictJsonRoute)] == []
