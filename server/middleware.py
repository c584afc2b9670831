"""The one pure ASGI middleware at the edge of every request (no BaseHTTPMiddleware task, no body
inspection, one ``send`` wrapper): request id and acting context, the body limit
(server.body_limit), security headers on every response, metrics, and the last-resort
problem+json 500."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core import context
from core.ids import new_request_id
from core.logging import get_logger
from server.body_limit import (
    BodyLimits,
    ContentTooLarge,
    bounded,
    declared_length,
    too_large_response,
)
from server.metrics import RequestMetrics
from server.problems import internal_error_response

REQUEST_ID_HEADER = b"x-request-id"
# What we accept from a caller as its own request id: short, printable, no separators to forge.
_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

Headers = list[tuple[bytes, bytes]]

log = get_logger(__name__)


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key == name:
            return value
    return None


def request_id_of(scope: Scope) -> str:
    """The caller's X-Request-ID when sane, else a fresh one."""
    incoming = _header(scope["headers"], REQUEST_ID_HEADER)
    if incoming is not None and _SANE_REQUEST_ID.fullmatch(incoming):
        return incoming.decode("ascii")
    return new_request_id()


@dataclass(frozen=True)
class SecurityHeaderPolicy:
    """Which headers go on every response. ``csp_by_prefix`` gives pages (login, docs) their own
    Content-Security-Policy; the longest matching path prefix wins, else ``default_csp``."""

    default_csp: str = API_CSP
    csp_by_prefix: Sequence[tuple[str, str]] = ()
    hsts_seconds: int = 31536000
    # Peers whose X-Forwarded-Proto is believed ("*": any). Empty: only the connection's scheme.
    trusted_proxies: frozenset[str] = field(default_factory=frozenset)


class SecurityHeaders:
    """The headers a response gets under a policy, precomputed so a request only picks a list."""

    def __init__(self, policy: SecurityHeaderPolicy) -> None:
        self.policy = policy
        common = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"cache-control", b"no-store"),
        ]
        self._default: Headers = [
            *common,
            (b"content-security-policy", policy.default_csp.encode()),
        ]
        self._by_prefix: list[tuple[str, Headers]] = [
            (prefix, [*common, (b"content-security-policy", csp.encode())])
            for prefix, csp in sorted(policy.csp_by_prefix, key=lambda item: -len(item[0]))
        ]
        self._hsts = (
            (b"strict-transport-security", f"max-age={policy.hsts_seconds}".encode())
            if policy.hsts_seconds > 0
            else None
        )
        self._trust_any_proxy = "*" in policy.trusted_proxies

    def for_request(self, scope: Scope) -> Headers:
        path: str = scope["path"]
        headers = self._default
        for prefix, prefixed in self._by_prefix:
            if path.startswith(prefix):
                headers = prefixed
                break
        if self._hsts is not None and self._is_https(scope):
            headers = [*headers, self._hsts]
        return headers

    def _is_https(self, scope: Scope) -> bool:
        if scope.get("scheme") == "https":
            return True
        if not (self._trust_any_proxy or self.policy.trusted_proxies):
            return False
        client = scope.get("client")
        peer = client[0] if client else None
        if not self._trust_any_proxy and peer not in self.policy.trusted_proxies:
            return False
        forwarded = _header(scope["headers"], b"x-forwarded-proto")
        # Proxies append; the last value comes from the trusted proxy nearest to us.
        return forwarded is not None and forwarded.split(b",")[-1].strip().lower() == b"https"


def _with_headers(message: Message, added: Headers) -> None:
    headers = list(message.get("headers", ()))
    present = {key.lower() for key, _ in headers}
    # A header the endpoint set itself (its own CSP, Cache-Control) wins.
    headers.extend(item for item in added if item[0] not in present)
    message["headers"] = headers


class EdgeMiddleware:
    """Outermost application middleware. For each HTTP request: an id (echoed, and set in the
    acting context that logs and the audit ledger read), the body limit (413 before anything
    inside runs, authentication included), the security headers on whatever is answered, one
    metrics observation, and, for an exception nobody handled, the problem+json 500 (request
    id, no traceback) sent through the same path so it gets all of the above."""

    def __init__(self, app: ASGIApp, policy: SecurityHeaderPolicy, body_limits: BodyLimits) -> None:
        self.app = app
        self.body_limits = body_limits
        self.security_headers = SecurityHeaders(policy)
        self.metrics = RequestMetrics()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        client = scope.get("client")
        token = context.set_current(
            context.ActingContext(
                actor="anonymous", origin=client[0] if client else None, request_id=request_id
            )
        )
        added = [
            *self.security_headers.for_request(scope),
            (REQUEST_ID_HEADER, request_id.encode()),
        ]
        status = 0

        async def send_at_edge(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                _with_headers(message, added)
            await send(message)

        limit = self.body_limits.for_path(scope["path"])
        declared = declared_length(scope)
        try:
            if declared is not None and declared > limit:
                raise ContentTooLarge(limit)
            await self.app(scope, bounded(receive, limit), send_at_edge)
        except ContentTooLarge as exc:  # read by a lean route, or one outside FastAPI's handlers
            if status:
                raise
            await too_large_response(exc)(scope, receive, send_at_edge)
        except Exception:
            # Masked like every log line (card numbers, secrets in the exception message).
            log.exception("unhandled error", method=scope.get("method"), path=scope.get("path"))
            if status:  # too late to answer differently; let the server close the connection
                raise
            await internal_error_response()(scope, receive, send_at_edge)
        finally:
            self.metrics.observe(scope, status or 500, time.perf_counter() - started)
            context.reset(token)
