"""The built-in passive engine: crawl the target within scope and limits, run every page check
on every page, and the TLS protocol check once on an https target. No external tool."""

from __future__ import annotations

from collections.abc import Iterator

from scanners.engines.base import Event, Progress, ScanRequest
from scanners.engines.builtin.checks import PAGE_CHECKS
from scanners.engines.builtin.crawl import crawl, vet_target
from scanners.engines.builtin.tls import legacy_protocols


class BuiltinEngine:
    name = "builtin"

    def scan(self, request: ScanRequest) -> Iterator[Event]:
        target = vet_target(request)
        yield Progress(0, 1, "crawling")
        for page, stats in crawl(request, target):
            for check in PAGE_CHECKS:
                yield from check(page)
            yield Progress(stats.fetched, max(stats.queued, stats.fetched), page.url)
        yield from legacy_protocols(request.scope.base_url, target, request.limits.request_timeout)
