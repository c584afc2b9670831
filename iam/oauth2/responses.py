"""JSON answers of the OAuth endpoints: RFC 6749 §5.1 success headers and §5.2 error bodies."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from authlib.oauth2 import OAuth2Error
from starlette.responses import JSONResponse, Response

# What authlib sends with every token/introspection response (authlib.consts).
TOKEN_RESPONSE_HEADERS = {
    "Content-Type": "application/json",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
}


def oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def token_json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), status_code=200, headers=TOKEN_RESPONSE_HEADERS)


def json_answer(status: int, body: Any, headers: Iterable[tuple[str, str]]) -> Response:
    """An answer as authlib hands it over (status, body, header pairs), for authlib's endpoints
    and Rampart's alike, so one error reads the same whoever raised it."""
    header_map = dict(headers)
    if isinstance(body, dict):
        content = orjson.dumps(body)
        header_map["Content-Type"] = "application/json"
    else:
        content = (body or "").encode("utf-8")
    header_map.setdefault("Cache-Control", "no-store")
    return Response(content, status_code=status, headers=header_map)


def error_answer(error: OAuth2Error) -> Response:
    """An RFC 6749 §5.2 error raised by a Rampart handler (authlib's error classes)."""
    status, body, headers = error()
    return json_answer(status, body, headers)
