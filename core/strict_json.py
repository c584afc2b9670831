"""The one parser for JSON request bodies: standard JSON, except that an object naming a key
twice is refused instead of silently keeping its last value (a body that one reader (a proxy,
an audit line, a check) takes one way and Rampart another)."""

from __future__ import annotations

import email.message
import json
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from core.errors import BadRequest
from core.logging import mask_text

_KEY_SHOWN = 64  # characters of the duplicated key named in the problem
M = TypeVar("M", bound=BaseModel)


class DuplicateJsonKey(BadRequest):
    slug, title = "duplicate-json-key", "Duplicate key in JSON body"

    def __init__(self, key: str) -> None:
        # The key only, never its values; masked like any location taken from the caller.
        shown = mask_text(key[:_KEY_SHOWN])
        super().__init__(f"The key {shown!r} appears more than once in one object.", key=shown)


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateJsonKey(key)
            seen.add(key)
    return document


def loads(body: bytes | str) -> Any:
    """``body`` parsed; DuplicateJsonKey (400) for a repeated key at any depth, ValueError
    (json.JSONDecodeError) for anything that is not JSON."""
    return json.loads(body, object_pairs_hook=_unique)


async def read_json_body(request: Request) -> Any:
    """The body of a lean route (one that declares no body parameter and reads it itself), as
    FastAPI would read a JSON body parameter: parsed by :func:`loads` when the content type is
    JSON (422 ``json_invalid``, 400 duplicate key or unreadable), the raw bytes otherwise (they
    then fail validation), None when empty (a missing body). Read before the guard runs, as a
    routed body is; :func:`validated_body` checks it after."""
    body = await request.body()
    if not body:
        return None
    message = email.message.Message()
    message["content-type"] = request.headers.get("content-type", "")
    subtype = message.get_content_subtype()
    if message.get_content_maintype() != "application" or not (
        subtype == "json" or subtype.endswith("+json")
    ):
        return body
    try:
        return loads(body)
    except json.JSONDecodeError as exc:
        error = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error"}
        raise RequestValidationError([error]) from None
    except DuplicateJsonKey:
        raise
    except Exception as exc:  # not UTF-8...: FastAPI's own answer to an unreadable body
        raise HTTPException(400, "There was an error parsing the body") from exc


def validated_body(model: type[M], document: Any) -> M:
    """``document`` (from :func:`read_json_body`) as ``model``, or the 422 FastAPI would give
    for a body parameter of that model (the same validation, locations under ``body``)."""
    if document is None:
        error = {"type": "missing", "loc": ("body",), "msg": "Field required"}
        raise RequestValidationError([error])
    try:
        return model.model_validate(document, from_attributes=True)
    except ValidationError as exc:
        errors = [
            {"type": e["type"], "loc": ("body", *e["loc"]), "msg": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        raise RequestValidationError(errors) from None


def json_body_openapi(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting a lean route's required JSON body as ``model`` (the route
    reads it with :func:`read_json_body`): the model's schema, nested models written in place
    (an operation's schema cannot refer to the model's own ``$defs``)."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(definitions[ref.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    content = {"application/json": {"schema": inline(schema)}}
    return {"requestBody": {"required": True, "content": content}}


class StrictJsonRequest(Request):
    """The request FastAPI reads a JSON body from: parsed by :func:`loads`, once."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    """The route class of every router (tests/server/test_json_bodies.py checks it): FastAPI's
    own body handling parses with :func:`loads`, so there is no second pass over the body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            try:
                return await handler(StrictJsonRequest(request.scope, request.receive))
            except HTTPException as exc:
                # FastAPI answers any parse error but a JSONDecodeError with a bare 400 raised
                # from it; the duplicate key is answered as itself (400 duplicate-json-key).
                if isinstance(exc.__cause__, DuplicateJsonKey):
                    raise exc.__cause__ from None
                raise

        return strict_handler
