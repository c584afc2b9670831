"""uvicorn (uvloop + httptools) against granian, the same endpoints on the same workers (issue
17, item 2): the bare ASGI anchor's /healthz, the same from one-route Starlette and FastAPI apps
(the framework floors), Rampart's /healthz, and Rampart's decision API
(POST /v1/authz/check with a real bearer token, benchmarks/lua/authz_check.lua). Each server
runs 2 workers on one data directory prepared once by `rampart serve`; wrk drives it with 2
threads and 64 connections."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.harness import Figure, Size
from benchmarks.servers import (
    ROOT,
    WrkResult,
    free_port,
    rampart_server,
    run_wrk,
    service_bearer,
    wait_http,
)

WORKERS = 2
LUA = Path(__file__).parent / "lua" / "authz_check.lua"
ANCHOR_DIR = Path(__file__).parent / "anchors" / "asgi"
CLIENT_ID = "bench-asgi-servers"
# One-route apps without middleware (anchors/asgi/frameworks.py): the floor each layer sets.
FRAMEWORK_FLOORS = ("starlette", "fastapi")


def _command(server: str, target: str, port: int, *, factory: bool) -> list[str]:
    python = str(ROOT / ".venv/bin/python")
    if server == "uvicorn":
        return [
            python, "-m", "uvicorn", target, *(["--factory"] if factory else []),
            "--port", str(port), "--workers", str(WORKERS), "--loop", "uvloop",
            "--http", "httptools", "--no-access-log", "--log-level", "warning",
            "--no-server-header",
        ]  # fmt: skip
    return [
        python, "-m", "granian", target, "--interface", "asgi", *(["--factory"] if factory else []),
        "--port", str(port), "--workers", str(WORKERS), "--loop", "uvloop",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


@contextmanager
def _serving(server: str, target: str, env: dict[str, str], *, factory: bool) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        _command(server, target, port, factory=factory),
        cwd=ANCHOR_DIR if not factory else ROOT,
        env={**os.environ, "PYTHONPATH": f"{ANCHOR_DIR}:{ROOT}", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/healthz", timeout=60)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def run(size: Size) -> list[Figure]:
    seconds = size.pick(10, 3, 1)
    data = Path(tempfile.mkdtemp(prefix="rampart-bench-servers-"))
    env = {
        "RAMPART_DATA_DIR": str(data),
        "RAMPART_SCHEDULER": "off",
        "RAMPART_LOG_LEVEL": "WARNING",
    }
    try:
        with rampart_server(env=env, data_dir=data) as prepared:  # set-up: migrations, keys
            bearer = service_bearer(prepared.base_url, env, CLIENT_ID)
        results: dict[tuple[str, str], WrkResult] = {}
        for server in ("uvicorn", "granian"):
            with _serving(server, "bare:app", {}, factory=False) as base:
                results[server, "bare"] = run_wrk(base + "/healthz", seconds=seconds)
            for floor in FRAMEWORK_FLOORS:
                with _serving(server, f"frameworks:{floor}_app", {}, factory=False) as base:
                    results[server, floor] = run_wrk(base + "/healthz", seconds=seconds)
            with _serving(server, "server.app:create_app", env, factory=True) as base:
                results[server, "healthz"] = run_wrk(base + "/healthz", seconds=seconds)
                os.environ["BENCH_BEARER"] = bearer
                results[server, "check"] = run_wrk(
                    base + "/v1/authz/check", seconds=seconds, script=LUA
                )
    finally:
        os.environ.pop("BENCH_BEARER", None)
        shutil.rmtree(data, ignore_errors=True)
    figures = []
    for server in ("uvicorn", "granian"):
        bare, healthz = results[server, "bare"], results[server, "healthz"]
        figures.append(
            Figure(
                f"GET /healthz, {server}, {WORKERS} workers",
                healthz.requests_per_second,
                "req/s",
                anchor=f"bare ASGI app, {server}",
                anchor_value=bare.requests_per_second,
                target="within 10% of the bare app",
                notes={"p99_ms": healthz.p99_ms, "anchor_p99_ms": bare.p99_ms},
            )
        )
        for floor in FRAMEWORK_FLOORS:
            figures.append(
                Figure(
                    f"GET /healthz, one-route {floor} app, {server}, {WORKERS} workers",
                    results[server, floor].requests_per_second,
                    "req/s",
                    anchor=f"bare ASGI app, {server}",
                    anchor_value=bare.requests_per_second,
                    notes={"p99_ms": results[server, floor].p99_ms},
                )
            )
    for endpoint, label in (("healthz", "GET /healthz"), ("check", "POST /v1/authz/check")):
        uvicorn, granian = results["uvicorn", endpoint], results["granian", endpoint]
        figures.append(
            Figure(
                f"{label}, granian against uvicorn, {WORKERS} workers",
                granian.requests_per_second,
                "req/s",
                anchor="uvicorn",
                anchor_value=uvicorn.requests_per_second,
                notes={
                    "p99_ms": granian.p99_ms,
                    "anchor_p99_ms": uvicorn.p99_ms,
                    "errors": granian.errors + uvicorn.errors,
                },
            )
        )
    return figures
