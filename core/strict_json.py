"""The one parser for JSON request bodies: standard JSON, except that an object naming a key
twice is refused instead of silently keeping its last value (a body that one reader (a proxy,
an audit line, a check) takes one way and Rampart another)."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from core.errors import BadRequest
from core.logging import mask_text

_KEY_SHOWN = 64  # characters of the duplicated key named in the problem


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
