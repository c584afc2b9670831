"""Every error as RFC 9457 ``application/problem+json`` with a stable ``type``: Rampart errors,
HTTP errors (404, 405...), request validation (422) and anything unexpected (500)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from core import context
from core.errors import PROBLEM_BASE, LoginRequired, RampartError
from core.logging import get_logger, mask_text

PROBLEM_MEDIA_TYPE = "application/problem+json"
INTERNAL_ERROR_TYPE = PROBLEM_BASE + "internal"
VALIDATION_ERROR_TYPE = PROBLEM_BASE + "validation"

# Stable type slugs and titles for the HTTP errors the framework raises itself.
HTTP_PROBLEMS: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("content-too-large", "Content too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("too-many-requests", "Too many requests"),
}

log = get_logger(__name__)


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def _occurrence() -> dict[str, str]:
    # The request id, not the path, names the occurrence: a path may carry a secret.
    request_id = context.current().request_id
    if request_id is None:
        return {}
    return {"instance": f"urn:rampart:request:{request_id}", "request_id": request_id}


def problem_body(
    type_: str, title: str, status: int, detail: str, **extensions: Any
) -> dict[str, Any]:
    """A problem document carrying the request id, so a caller can quote it to an operator."""
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail}
    body.update(_occurrence())
    body.update(extensions)
    return body


def internal_error_response() -> ProblemResponse:
    """The one 500: no exception text, no traceback, only the request id to quote."""
    body = problem_body(
        INTERNAL_ERROR_TYPE,
        "Internal error",
        500,
        "An unexpected error occurred; quote the request id to an operator.",
    )
    return ProblemResponse(body, status_code=500)


def rampart_error_response(exc: RampartError) -> ProblemResponse:
    occurrence = _occurrence()
    body = exc.to_problem(occurrence.get("instance"))
    body.update(occurrence)
    headers: dict[str, str] | None = getattr(exc, "headers", None)
    return ProblemResponse(body, status_code=exc.status, headers=headers)


async def _rampart_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RampartError)  # noqa: S101 - registered for RampartError only
    if isinstance(exc, LoginRequired):
        # A page (core.authz.authorize_page): to the login page, and back here afterwards.
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{exc.sign_in}?next={quote(here, safe='')}", status_code=303)
    if exc.status >= 500:
        log.warning("request failed", problem=exc.type, detail=exc.detail)
    return rampart_error_response(exc)


def http_problem_body(status: int, detail: object = None) -> dict[str, Any]:
    """The problem document of an HTTP error (by its status) with ``detail``, or its title."""
    known = HTTP_PROBLEMS.get(status)
    if known is not None:
        type_, title = PROBLEM_BASE + known[0], known[1]
    else:
        # RFC 9457 section 4.2.1: no more semantics than the status code itself.
        type_, title = "about:blank", HTTPStatus(status).phrase
    return problem_body(
        type_, title, status, detail if isinstance(detail, str) and detail else title
    )


async def _http_error(_request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for it only
    return ProblemResponse(
        http_problem_body(exc.status_code, exc.detail),
        status_code=exc.status_code,
        headers=exc.headers,
    )


def _safe_location(part: object) -> str | int:
    # A location can be a key taken from the client's own document: mask it like a value.
    return part if isinstance(part, int) else mask_text(str(part))


async def _validation_error(_request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for it only
    # Never echo `input` or `ctx`: the rejected value may be a password or a card number.
    errors = [
        {
            "loc": [_safe_location(part) for part in error.get("loc", ())],
            "msg": mask_text(str(error.get("msg", ""))),
            "type": str(error.get("type", "invalid")),
        }
        for error in exc.errors()
    ]
    body = problem_body(
        VALIDATION_ERROR_TYPE,
        "Request validation failed",
        422,
        "The request does not match what this operation accepts; see `errors`.",
        errors=errors,
    )
    return ProblemResponse(body, status_code=422)


async def _unexpected_error(_request: Request, _exc: Exception) -> ProblemResponse:
    # Reached only when an error escapes the middleware stack; UnhandledErrorMiddleware logs it.
    return internal_error_response()


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RampartError, _rampart_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
