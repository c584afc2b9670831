"""Hot paths in front of the routed application, for the few requests a service makes by the
thousand (tokenize, detokenize). A domain lists them by exact path (``FAST_PATHS``, of
:class:`core.http.FastPath`, in a module of registry.FAST_PATH_MODULES); each handler answers
a plainly well-formed, authorized request the way its documented route would, or returns None,
and the request goes on to that route (body replayed), which owns every other answer:
validation errors, 401, 403, 413.

What this skips is FastAPI's per-request machinery (routing through ~130 routes, dependency
solving, two threadpool hops, response-model validation); the edge middleware still wraps it,
so request ids, security headers, logs and metrics are the same.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import RampartError
from core.http import FastPath
from core.logging import get_logger
from server.problems import rampart_error_response

log = get_logger(__name__)

FAST_PATH_REQUESTS = Counter(
    "rampart_fast_path_requests",
    "Requests to a hot path, by how they were answered: `fast`, or `routed` to the endpoint.",
    ["path", "answered"],
)


class FastPathMiddleware:
    def __init__(self, app: ASGIApp, paths: Mapping[str, FastPath]) -> None:
        self.app = app
        self.paths = dict(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self.paths.get(scope["path"]) if scope["type"] == "http" else None
        if fast is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body, complete, more = await _read_body(receive, fast.max_body_bytes)
        if complete:
            scope["route"] = fast
            try:
                response = await fast.handler(Request(scope), body)
            except RampartError as exc:  # e.g. the database or KMS is down: 503, as routed
                if exc.status >= 500:
                    log.warning("request failed", problem=exc.type, detail=exc.detail)
                response = rampart_error_response(exc)
            if response is not None:
                FAST_PATH_REQUESTS.labels(fast.path, "fast").inc()
                await response(scope, receive, send)
                return
            del scope["route"]
        FAST_PATH_REQUESTS.labels(fast.path, "routed").inc()
        await self.app(scope, _replaying(body, more, receive), send)


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool, bool]:
    """The body read so far, whether it is all there within ``limit``, and whether the stream
    has more to read (reading stops once past ``limit``)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False, False  # disconnected: the routed app sees it too
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = bool(message.get("more_body", False))
        if size > limit:
            return b"".join(chunks), False, more
        if not more:
            return b"".join(chunks), True, False


def _replaying(body: bytes, more: bool, receive: Receive) -> Receive:
    """``receive`` for the routed app: what was read first, then the rest of the stream."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replay
