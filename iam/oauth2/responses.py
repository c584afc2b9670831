"""JSON answers of the OAuth endpoints: RFC 6749 §5.1 success headers and §5.2 error bodies."""

from __future__ import annotations

from typing import Any

import orjson
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
