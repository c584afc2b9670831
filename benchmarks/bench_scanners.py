"""The built-in passive engine over a generated 500-page shop (issue 14, item 11): target <= 30 s
with bounded memory. The site runs under uvicorn in its own process and every scan in a fresh
one, so peak RSS and the tracemalloc peak are the scanner's own; 100 against 500 pages shows
whether memory grows with the crawl. Anchor: a bare sequential httpx GET of the same URLs.

uv run python -m benchmarks scanners [--quick | --smoke]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from benchmarks.harness import Figure, Size
from benchmarks.servers import ROOT, free_port, wait_http

CATEGORIES = 9
# A shop's page, about 6 kB: a header with a third-party script (sri-missing), a footer with a
# support address (email-disclosure), a product description, and no security headers at all, so
# every page gives the checks work and several observations.
_FILLER = "<p>" + "Hand-made, fair-trade, shipped within two days. " * 80 + "</p>"


def _page(title: str, links: list[str]) -> str:
    anchors = " ".join(f'<a href="{href}">{href}</a>' for href in links)
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title>"
        '<script src="https://cdn.example.com/analytics.js"></script>'
        '<link rel="stylesheet" href="/static/site.css"></head><body>'
        f"<h1>{title}</h1><nav>{anchors}</nav>{_FILLER}"
        "<footer>Questions? support@shop.example</footer></body></html>"
    )


def site_links(pages: int) -> dict[str, list[str]]:
    """The generated site: home -> categories -> products; products link their neighbours."""
    products = pages - 1 - CATEGORIES
    per_category = -(-products // CATEGORIES)
    site: dict[str, list[str]] = {"/": [f"/category/c{c}" for c in range(CATEGORIES)]}
    for c in range(CATEGORIES):
        mine = [p for p in range(products) if p // per_category == c]
        site[f"/category/c{c}"] = ["/", *(f"/product/p{p}" for p in mine)]
        for p in mine:
            neighbours = [f"/product/p{q}" for q in (p - 1, p + 1, p + 2) if q in mine]
            site[f"/product/p{p}"] = ["/", f"/category/c{c}", *neighbours]
    return site


def serve_site(port: int, pages: int) -> None:
    """Runs in the site's own process: uvicorn, one worker, no access log."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, PlainTextResponse, Response
    from starlette.routing import Route

    bodies = {path: _page(path, links).encode() for path, links in site_links(pages).items()}

    async def page(request: Request) -> Response:
        body = bodies.get(request.url.path)
        if body is None:
            return PlainTextResponse("not found", status_code=404)
        response = HTMLResponse(body, headers={"server": "nginx/1.18.0"})
        response.headers.append("set-cookie", "session=abc; Path=/")
        return response

    app = Starlette(routes=[Route("/{path:path}", page)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


@contextmanager
def _site(pages: int) -> Iterator[str]:
    port = free_port()
    code = f"from benchmarks.bench_scanners import serve_site; serve_site({port}, {pages})"
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_http(url)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def scan_once(url: str, pages: int, trace: bool) -> dict[str, Any]:
    """Runs in a fresh process: one built-in scan through normalisation, as the service does it."""
    from scanners.engines import get_engine
    from scanners.engines.base import Limits, Observation, Progress, ScanRequest, Scope
    from scanners.normalise import normalise

    limits = Limits(
        max_pages=pages,
        max_depth=5,
        max_seconds=120,
        request_timeout=10,
        max_response_bytes=2 * 1024 * 1024,
    )
    request = ScanRequest(target="bench", scope=Scope(url), limits=limits, allow_private=True)
    engine = get_engine("builtin")  # imported before tracing starts: code is not crawl memory
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    observations = done = 0
    fingerprints: set[str] = set()
    for event in engine.scan(request):
        if isinstance(event, Observation):
            observations += 1
            fingerprints.add(normalise("bench", event).fingerprint)
        elif isinstance(event, Progress):
            done = max(done, event.done)
    seconds = time.perf_counter() - start
    traced = tracemalloc.get_traced_memory()[1] if trace else 0
    return {
        "seconds": seconds,
        "pages": done,
        "observations": observations,
        "findings": len(fingerprints),
        "tracemalloc_peak": traced,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def _scan_in_child(url: str, pages: int, trace: bool) -> dict[str, Any]:
    args = [sys.executable, "-m", "benchmarks.bench_scanners", url, str(pages)]
    out = subprocess.run(
        [*args, *(["--trace"] if trace else [])], cwd=ROOT, check=True, capture_output=True
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _bare_crawl(url: str, pages: int) -> float:
    """The anchor: the same pages fetched one after another by httpx, nothing parsed."""
    import httpx

    paths = list(site_links(pages))
    with httpx.Client(trust_env=False, base_url=url) as client:
        start = time.perf_counter()
        for path in paths:
            client.get(path).read()
        return time.perf_counter() - start


def run(size: Size) -> list[Figure]:
    sizes = size.pick((100, 500), (100, 200), (10, 20))
    figures: list[Figure] = []
    results: dict[int, dict[str, Any]] = {}
    for pages in sizes:
        with _site(pages) as url:
            _bare_crawl(url, pages)  # warm the site's process
            anchor = min(_bare_crawl(url, pages) for _ in range(3))
            timed = min(
                (_scan_in_child(url, pages, trace=False) for _ in range(3)),
                key=lambda r: float(r["seconds"]),
            )
            traced = _scan_in_child(url, pages, trace=True)
        results[pages] = {**timed, "tracemalloc_peak": traced["tracemalloc_peak"]}
        notes = {k: timed[k] for k in ("pages", "observations", "findings")}
        figures.append(
            Figure(
                f"builtin passive scan, {pages} pages (best of 3)",
                timed["seconds"],
                "s",
                anchor=f"bare httpx GET of {pages} pages",
                anchor_value=anchor,
                higher_is_better=False,
                target="<= 30 s" if pages == 500 else None,
                notes=notes,
            )
        )
        figures.append(
            Figure(
                f"  pages per second, {pages} pages", timed["pages"] / timed["seconds"], "pages/s"
            )
        )
    small, large = (results[n] for n in sizes)
    for key, label in (("peak_rss", "peak RSS"), ("tracemalloc_peak", "tracemalloc peak")):
        for pages in sizes:
            figures.append(
                Figure(
                    f"{label}, {pages} pages",
                    results[pages][key] / 2**20,
                    "MiB",
                    higher_is_better=False,
                )
            )
        growth = large[key] / small[key] if small[key] else float("nan")
        figures.append(
            Figure(
                f"{label} growth, {sizes[1]} vs {sizes[0]} pages",
                growth,
                "x",
                higher_is_better=False,
                target="bounded (~1x)",
            )
        )
    return figures


if __name__ == "__main__":  # one scan in this process (run() starts it in a fresh one)
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("pages", type=int)
    parser.add_argument("--trace", action="store_true")
    options = parser.parse_args()
    print(json.dumps(scan_once(options.url, options.pages, options.trace)))
