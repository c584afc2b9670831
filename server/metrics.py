"""Prometheus metrics: requests by method, route template and status, and their latency.

Labels use the route template (``/v1/tokens/{token_id}``), never the raw path, so cardinality stays
bounded. With several worker processes set ``PROMETHEUS_MULTIPROC_DIR`` and /metrics aggregates.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.types import Scope

UNMATCHED_ROUTE = "<unmatched>"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# Module level: one set of collectors per process, however many apps tests build.
REQUESTS = Counter(
    "rampart_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ("method", "route", "status"),
)
LATENCY = Histogram(
    "rampart_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ("method", "route"),
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def route_template(scope: Scope) -> str:
    """The matched route's template with its router prefixes, or UNMATCHED_ROUTE."""
    # FastAPI keeps included routes unprefixed (scope["route"].path lacks "/v1"); the full
    # template is on the effective route context it records in the scope.
    fastapi_scope = scope.get("fastapi")
    effective = fastapi_scope.get("effective_route_context") if fastapi_scope else None
    template = getattr(effective, "path_format", None)
    if not isinstance(template, str):
        route = scope.get("route")
        template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) else UNMATCHED_ROUTE


class RequestMetrics:
    """Records one answered request; the label children are cached because ``labels()`` takes a
    lock and builds a key on every call."""

    def __init__(self) -> None:
        self._counters: dict[tuple[str, str, str], Any] = {}
        self._histograms: dict[tuple[str, str], Any] = {}

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in KNOWN_METHODS else "OTHER"
        route = route_template(scope)
        counter_key = (method, route, str(status))
        counter = self._counters.get(counter_key)
        if counter is None:
            counter = self._counters[counter_key] = REQUESTS.labels(*counter_key)
        counter.inc()
        histogram_key = (method, route)
        histogram = self._histograms.get(histogram_key)
        if histogram is None:
            histogram = self._histograms[histogram_key] = LATENCY.labels(*histogram_key)
        histogram.observe(seconds)


def render_metrics() -> tuple[bytes, str]:
    """The exposition text and its content type; aggregated over workers in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
