"""The server at idle and under a trivial load: resident memory on the embedded default
(target <= 150 MB) and wrk against /healthz, the ceiling every HTTP figure sits under.

Memory is the proportional set size (PSS) of the process tree: `rampart serve` is granian's
supervisor plus its worker, and summing their RSS would count the pages they share twice. The
RSS sum is in the figure's notes."""

from __future__ import annotations

import time

from benchmarks.harness import Figure, Size
from benchmarks.servers import pss_bytes, rampart_server, rss_bytes, run_wrk


def run(size: Size) -> list[Figure]:
    figures: list[Figure] = []
    with rampart_server() as server:
        time.sleep(2)  # let start-up work (scheduler, caches) settle before reading RSS
        pss_mb = pss_bytes(server.process.pid) / 1e6
        rss_mb = rss_bytes(server.process.pid) / 1e6
        figures.append(
            Figure(
                "idle resident memory (PSS), embedded default (1 worker)",
                pss_mb,
                "MB",
                anchor="target",
                anchor_value=150.0,
                higher_is_better=False,
                target="<= 150 MB",
                notes={"rss_sum_mb": rss_mb},
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
