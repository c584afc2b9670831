"""Breadth-first crawl of one origin within scope and limits (pages, depth, time). Every request
goes to the address the SSRF guard vetted once (``vault.proxy.destinations.pin``), with the
target's name in the Host header and TLS SNI, no redirects followed blindly (a same-origin
Location is queued like a link), no proxy from the environment and bounded bodies."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from core.errors import RampartError
from scanners.engines.base import ScanRequest
from scanners.engines.builtin.page import Page, parse_html
from scanners.exceptions import ScanFailed, TargetRefused
from vault.proxy.destinations import PinnedTarget, pin

# Sent on every request: a response that echoes it in Access-Control-Allow-Origin reflects
# any origin. `.invalid` is reserved (RFC 2606): no one can own it.
PROBE_ORIGIN = "https://rampart-scan.invalid"
USER_AGENT = "Rampart-Scanner/1"


@dataclass(frozen=True, slots=True)
class CrawlStats:
    queued: int
    fetched: int


def vet_target(request: ScanRequest) -> PinnedTarget:
    """The target's vetted address, or TargetRefused / ScanFailed saying why not."""
    try:
        return pin(request.scope.base_url, allow_private=request.allow_private, allow_http=True)
    except RampartError as exc:
        detail = (exc.detail or "").replace("proxies may not reach", "scans may not reach")
        if exc.status == 403:
            hint = "" if request.allow_private else " (RAMPART_SCAN_ALLOW_PRIVATE_NETWORKS)"
            raise TargetRefused(f"{detail}{hint}") from None
        raise ScanFailed(detail or "the target could not be reached") from None


def origin_of(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


def crawl(request: ScanRequest, target: PinnedTarget) -> Iterator[tuple[Page, CrawlStats]]:
    """Fetched pages in breadth-first order, each with the counts so far."""
    limits = request.limits
    origin = origin_of(request.scope.base_url)
    deadline = time.monotonic() + limits.max_seconds
    start = request.scope.base_url
    queue: deque[tuple[str, int]] = deque([(start, 0)])
    seen = {start}
    fetched = 0
    headers = {
        **request.headers,
        "user-agent": USER_AGENT,
        "origin": PROBE_ORIGIN,
        "host": target.host_header,
    }
    extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else {}
    with httpx.Client(
        trust_env=False,
        follow_redirects=False,
        timeout=httpx.Timeout(limits.request_timeout),
        verify=True,
    ) as client:
        while queue and fetched < limits.max_pages and time.monotonic() < deadline:
            url, depth = queue.popleft()
            page = _fetch(client, target, url, headers, extensions, limits.max_response_bytes)
            if page is None:
                if fetched == 0 and url == start:
                    raise ScanFailed("the target URL could not be fetched")
                continue
            fetched += 1
            if depth < limits.max_depth:
                for link in _next_links(page):
                    if (
                        link not in seen
                        and origin_of(link) == origin
                        and request.scope.allows(link)
                    ):
                        seen.add(link)
                        queue.append((link, depth + 1))
            yield page, CrawlStats(queued=min(len(seen), limits.max_pages), fetched=fetched)


def _next_links(page: Page) -> list[str]:
    links = list(page.links)
    location = page.headers.get("location")
    if 300 <= page.status < 400 and location:
        links.append(urljoin(page.url, location))
    return links


def _fetch(
    client: httpx.Client,
    target: PinnedTarget,
    url: str,
    headers: dict[str, str],
    extensions: dict[str, str],
    limit: int,
) -> Page | None:
    parts = urlsplit(url)
    wire = target.base_url.copy_with(path=parts.path or "/", query=parts.query.encode() or None)
    try:
        req = client.build_request("GET", wire, headers=headers, extensions=extensions)
        response = client.send(req, stream=True)
        try:
            body = _read_truncated(response, limit)
        finally:
            response.close()
    except httpx.HTTPError:
        return None  # one page that fails does not end the scan; its URL is not reported
    text = body.decode(response.encoding or "utf-8", errors="replace")
    page = Page(url, "GET", response.status_code, response.headers, text)
    if page.is_html:
        links, resources = parse_html(url, text)
        page = Page(url, "GET", response.status_code, response.headers, text, links, resources)
    return page


def _read_truncated(response: httpx.Response, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk[: limit - size])
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)
