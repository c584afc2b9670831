"""Bad input never breaks the server: schemathesis fuzzes every operation of create_app()'s
OpenAPI document over ASGI (positive and negative inputs, bounded and seeded) and requires no 5xx
and answers that match the documented schema and content type. New endpoints are covered as
soon as a router is registered in server/registry.py."""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path as FilePath
from typing import Annotated, Any

import pytest
import schemathesis
from fastapi import APIRouter, FastAPI, Header, Path, Query
from pydantic import BaseModel, Field
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from core.database import reset_engine_cache
from core.errors import NotFound
from core.settings import Settings, get_settings
from server.app import create_app
from tests.server.conftest import prepare

MAX_EXAMPLES = 50
SEED = 20251125
CHECKS = [
    schemathesis.checks.not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
]

# The schema is loaded when pytest collects this module (schemathesis' lazy `from_fixture`
# loader does not work with this pytest), so the app is built on settings made here: the
# embedded default, SQLite + local KMS, in a directory of its own. Database behaviour on both
# backends is covered by the other tests; this one is about the HTTP surface.
_DATA_DIR = FilePath(tempfile.mkdtemp(prefix="rampart-fuzz-"))
atexit.register(shutil.rmtree, _DATA_DIR, ignore_errors=True)
FUZZED_SETTINGS = Settings(
    data_dir=_DATA_DIR,
    database_url=None,
    redis_url=None,
    env="test",
    kms="local",
    scheduler="off",
)
CONFIG = schemathesis.Config.from_dict(
    {"seed": SEED, "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True}}
)


def fuzzed_over_asgi(asgi_app: FastAPI) -> schemathesis.BaseSchema:
    """The app's document, taken without a request: `from_asgi` sends one at collection, which
    starts the app's lifespan (the policy syncer among its threads), and schemathesis stops it
    only at the teardown of whichever test runs first in the process; meanwhile the syncer
    follows that test's settings and seeds the default policy into its database."""
    document = json.loads(json.dumps(asgi_app.openapi()))  # what /openapi.json serves
    loaded = schemathesis.openapi.from_dict(document, config=CONFIG)
    loaded.app, loaded.location = asgi_app, "/openapi.json"  # cases are called over ASGI
    return loaded


app = create_app(FUZZED_SETTINGS)
schema = fuzzed_over_asgi(app)


class Color(StrEnum):
    RED = "red"
    BLUE = "blue"


class Line(BaseModel):
    sku: str = Field(min_length=1, max_length=20)
    quantity: int = Field(ge=1, le=99)


class Order(BaseModel):
    customer: str = Field(max_length=40)
    lines: list[Line] = Field(min_length=1, max_length=5)
    note: str | None = None


def _probe_router() -> APIRouter:
    """Endpoints shaped like the domains' (path, query, header, JSON body, sync and async) so the
    problem answers for bad input (422, 404...) are fuzzed before any domain exists."""
    router = APIRouter(prefix="/v1/probe")

    @router.get("/items/{item_id}")
    def get_item(
        item_id: Annotated[int, Path(ge=1)],
        color: Color = Color.RED,
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
        x_tenant: Annotated[str | None, Header(max_length=30)] = None,
    ) -> dict[str, int | str]:
        if item_id > 1000:
            raise NotFound("no such item")
        return {"item_id": item_id, "color": color.value, "limit": limit}

    @router.post("/orders", status_code=201)
    async def create_order(order: Order) -> Order:
        return order

    @router.get("/broken")
    def broken() -> dict[str, str]:
        raise RuntimeError("canary")

    return router


probe_app = create_app(FUZZED_SETTINGS)
probe_app.include_router(_probe_router())
probe_schema = fuzzed_over_asgi(probe_app)


@pytest.fixture(scope="module", autouse=True)
def initialized_data_dir() -> Iterator[None]:
    """Schema and keys in place (like `rampart init`), and the cached factories pointed at them."""
    patch = pytest.MonkeyPatch()
    patch.setenv("RAMPART_DATA_DIR", str(_DATA_DIR))
    patch.setenv("RAMPART_ENV", "test")
    for name in ("RAMPART_DATABASE_URL", "RAMPART_REDIS_URL", "RAMPART_KMS"):
        patch.delenv(name, raising=False)
    get_settings.cache_clear()
    reset_engine_cache()
    prepare(FUZZED_SETTINGS)
    yield
    patch.undo()
    get_settings.cache_clear()
    reset_engine_cache()


@schema.parametrize()
def test_no_input_breaks_an_operation(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(checks=CHECKS)


probe_operations = probe_schema.include(path_regex="^/v1/probe/(items|orders)")


@probe_operations.parametrize()
def test_problem_answers_for_bad_input_match_the_document(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(checks=CHECKS)


def test_the_checks_catch_a_server_error() -> None:
    """The canary: a 500 (even a well-formed problem+json one) fails the fuzz."""
    case = probe_schema["/v1/probe/broken"]["GET"].Case()
    with pytest.raises(FailureGroup) as failures:
        case.call_and_validate(checks=CHECKS)
    assert [type(failure).__name__ for failure in failures.value.exceptions] == ["ServerError"]


def test_every_documented_operation_is_fuzzed() -> None:
    """Guards the guard: schemathesis loads every operation of the document without error."""
    document = app.openapi()
    documented = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
    }
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results), "schemathesis could not load some operations"
    fuzzed = {(operation.method.upper(), operation.path) for operation in operations}
    assert {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")} <= documented
    assert documented == fuzzed
