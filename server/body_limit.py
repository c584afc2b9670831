"""One limit on every request body, enforced at the edge before authentication and routing: a
declared Content-Length over it is answered 413 before a byte is read, and a body that streams
in (chunked, or longer than it said) is cut off at the limit. Endpoints never bound bodies
themselves; a path that needs a larger body declares it in registry.BODY_LIMIT_BY_PREFIX."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.types import Message, Receive, Scope

from server.problems import ProblemResponse, http_problem_body


class ContentTooLarge(HTTPException):
    """The body passed its path's limit while being read. An HTTPException, so FastAPI re-raises
    it from its body parsing (instead of a 400) and the edge answers it."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request bodies on this path are limited to {limit} bytes.")


class BodyLimits:
    """The byte limit of a request's body: the longest matching prefix's, else ``default``."""

    def __init__(self, default: int, by_prefix: Sequence[tuple[str, int]] = ()) -> None:
        self.default = default
        self._by_prefix = sorted(by_prefix, key=lambda item: -len(item[0]))

    def for_path(self, path: str) -> int:
        for prefix, limit in self._by_prefix:
            if path.startswith(prefix):
                return limit
        return self.default


def declared_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            # The server (h11, httptools) has already refused a malformed Content-Length.
            return int(value) if value.isdigit() else None
    return None


def bounded(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises ContentTooLarge as soon as the body read passes ``limit``."""
    received = 0

    async def receive_bounded() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise ContentTooLarge(limit)
        return message

    return receive_bounded


def too_large_response(exc: ContentTooLarge) -> ProblemResponse:
    # The rest of the body is never read: close the connection rather than drain it.
    return ProblemResponse(
        http_problem_body(413, str(exc.detail)), status_code=413, headers={"connection": "close"}
    )
