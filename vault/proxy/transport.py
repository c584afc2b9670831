"""Sending a proxied request: to the pinned address, with the destination's name in the Host
header and TLS SNI (so its certificate is checked against the name), no redirects, no proxy
from the environment, one overall deadline and a bounded response."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from vault.proxy.destinations import PinnedTarget
from vault.proxy.exceptions import ProxyPathInvalid, UpstreamFailed, UpstreamTimeout

# Plain relative paths only: no `..` or `.` segments, no encoded characters that could be
# decoded into one further along, so a route can never leave its destination's base path.
_SEGMENT = re.compile(r"^[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,199}$")
MAX_PATH_SEGMENTS = 32
RELAYED_RESPONSE_HEADERS = ("content-type", "retry-after", "x-request-id")


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    status: int
    headers: dict[str, str]
    body: bytes = field(repr=False)


def join_path(base_path: str, relative: str) -> str:
    """``relative`` appended to the destination's base path, or ProxyPathInvalid."""
    segments = [s for s in relative.split("/") if s] if relative else []
    if len(segments) > MAX_PATH_SEGMENTS or not all(
        _SEGMENT.match(s) and s not in (".", "..") for s in segments
    ):
        raise ProxyPathInvalid("the path after the route name must be plain relative segments")
    joined = base_path.rstrip("/") + "/" + "/".join(segments)
    if relative.endswith("/") and segments:
        joined += "/"
    return joined


def send(
    target: PinnedTarget,
    *,
    method: str,
    path: str,
    query: str,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    max_response_bytes: int,
) -> UpstreamResponse:
    """One request to the pinned target. Errors say what failed, never what was sent."""
    base = target.base_url
    url = base.copy_with(path=join_path(base.path, path), query=query.encode() or None)
    request_headers = {**headers, "host": target.host_header}
    extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else {}
    deadline = time.monotonic() + timeout
    # One client per request: httpx pools connections by (scheme, IP, port), so a pooled TLS
    # connection made for one name could otherwise carry a request meant for another.
    with httpx.Client(
        trust_env=False, follow_redirects=False, timeout=httpx.Timeout(timeout)
    ) as client:
        try:
            request = client.build_request(
                method, url, headers=request_headers, content=body, extensions=extensions
            )
            response = client.send(request, stream=True)
            try:
                if response.is_redirect:
                    raise UpstreamFailed("the destination answered with a redirect; not followed")
                received = _read_bounded(response, deadline, max_response_bytes)
            finally:
                response.close()
            relayed = {
                name: response.headers[name]
                for name in RELAYED_RESPONSE_HEADERS
                if name in response.headers
            }
            return UpstreamResponse(response.status_code, relayed, received)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout("the destination did not answer in time") from exc
        except httpx.HTTPError as exc:
            # The exception text can name the URL; the problem keeps only its class.
            raise UpstreamFailed(
                "the destination could not be reached", cause=type(exc).__name__
            ) from exc


def _read_bounded(response: httpx.Response, deadline: float, limit: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise UpstreamFailed(f"the destination's answer is over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise UpstreamFailed(f"the destination's answer is over {limit} bytes")
        if time.monotonic() > deadline:
            # Per-read timeouts alone let a server trickle bytes forever.
            raise UpstreamTimeout("the destination did not answer in time")
        chunks.append(chunk)
    return b"".join(chunks)
