"""The server at idle and under a trivial load: resident memory on the embedded default
(target <= 150 MB) and wrk against /healthz, the ceiling every HTTP figure sits under."""

from __future__ import annotations

import time

from benchmarks.harness import Figure, Size
from benchmarks.servers import rampart_server, rss_bytes, run_wrk


def run(size: Size) -> list[Figure]:
    figures: list[Figure] = []
    with rampart_server() as server:
        time.sleep(2)  # let start-up work (scheduler, caches) settle before reading RSS
        rss_mb = rss_bytes(server.process.pid) / 1e6
        figures.append(
            Figure(
                "idle resident memory, embedded default (1 worker)",
                rss_mb,
                "MB",
                anchor="target",
                anchor_value=150.0,
                higher_is_better=False,
                target="<= 150 MB",
            )
        )
    with rampart_server(workers=2) as server:
        result = run_wrk(server.base_url + "/healthz", seconds=size.pick(10, 3, 1))
        figures.append(
            Figure(
                "GET /healthz, 2 workers (wrk -t2 -c64)",
                result.requests_per_second,
                "req/s",
                notes={"p50_ms": result.p50_ms, "p99_ms": result.p99_ms, "errors": result.errors},
            )
        )
        figures.append(Figure("GET /healthz p99", result.p99_ms, "ms", higher_is_better=False))
    return figures
