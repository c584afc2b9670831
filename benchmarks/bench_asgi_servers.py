"""uvicorn (uvloop + httptools) against granian, the same endpoints on the same workers (issue
17, item 2): the bare ASGI anchor's /healthz, the same from one-route Starlette and FastAPI apps
(the framework floors), Rampart's /healthz, and Rampart's decision API
(POST /v1/authz/check with a real bearer token, benchmarks/lua/authz_check.lua). Each server
runs 2 workers on one data directory prepared once by `rampart serve`; wrk drives it with 2
threads and 64 connections.

Both servers of a pair are up at once and measured in interleaved rounds (the median round is
reported), with the CPU seconds each server's process tree spent: requests per CPU-second is the
figure other work on the machine moves least."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import Figure, Size
from benchmarks.servers import (
    ROOT,
    WrkResult,
    free_port,
    rampart_server,
    run_wrk,
    service_bearer,
    tree_cpu_seconds,
    wait_http,
)

WORKERS = 2
LUA = Path(__file__).parent / "lua" / "authz_check.lua"
ANCHOR_DIR = Path(__file__).parent / "anchors" / "asgi"
CLIENT_ID = "bench-asgi-servers"
# One-route apps without middleware (anchors/asgi/frameworks.py): the floor each layer sets.
FRAMEWORK_FLOORS = ("starlette", "fastapi")


@dataclass(frozen=True, slots=True)
class Served:
    base_url: str
    pid: int


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


@dataclass(frozen=True, slots=True)
class Round:
    wrk: WrkResult
    cpu_seconds: float
    seconds: int

    @property
    def per_cpu_second(self) -> float:
        requests = self.wrk.requests_per_second * self.seconds
        return requests / self.cpu_seconds if self.cpu_seconds else 0.0


@contextmanager
def _serving(server: str, target: str, env: dict[str, str], *, factory: bool) -> Iterator[Served]:
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
        yield Served(base, process.pid)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _round(served: Served, path: str, seconds: int, script: Path | None = None) -> Round:
    before = tree_cpu_seconds(served.pid)
    result = run_wrk(served.base_url + path, seconds=seconds, script=script)
    return Round(result, tree_cpu_seconds(served.pid) - before, seconds)


def _median(rounds: list[Round]) -> Round:
    return sorted(rounds, key=lambda r: r.wrk.requests_per_second)[len(rounds) // 2]


# What each pair serves: (label, ASGI target, is a factory, path, wrk script).
APPS: tuple[tuple[str, str, bool, str, Path | None], ...] = (
    ("bare", "bare:app", False, "/healthz", None),
    ("starlette", "frameworks:starlette_app", False, "/healthz", None),
    ("fastapi", "frameworks:fastapi_app", False, "/healthz", None),
    ("healthz", "server.app:create_app", True, "/healthz", None),
    ("check", "server.app:create_app", True, "/v1/authz/check", LUA),
)
SERVERS = ("uvicorn", "granian")


def run(size: Size) -> list[Figure]:
    seconds, rounds = size.pick((10, 3), (5, 2), (1, 1))
    data = Path(tempfile.mkdtemp(prefix="rampart-bench-servers-"))
    env = {
        "RAMPART_DATA_DIR": str(data),
        "RAMPART_SCHEDULER": "off",
        "RAMPART_LOG_LEVEL": "WARNING",
    }
    measured: dict[tuple[str, str], list[Round]] = {}
    try:
        with rampart_server(env=env, data_dir=data) as prepared:  # set-up: migrations, keys
            os.environ["BENCH_BEARER"] = service_bearer(prepared.base_url, env, CLIENT_ID)
        for label, target, factory, path, script in APPS:
            with ExitStack() as stack:
                served = {
                    server: stack.enter_context(
                        _serving(server, target, env if factory else {}, factory=factory)
                    )
                    for server in SERVERS
                }
                for _ in range(rounds):
                    for server in SERVERS:
                        one = _round(served[server], path, seconds, script)
                        measured.setdefault((server, label), []).append(one)
    finally:
        os.environ.pop("BENCH_BEARER", None)
        shutil.rmtree(data, ignore_errors=True)
    results = {key: _median(value) for key, value in measured.items()}
    figures = []
    for server in SERVERS:
        bare = results[server, "bare"]
        for label, name in (
            ("healthz", "Rampart"),
            ("fastapi", "one-route FastAPI app"),
            ("starlette", "one-route Starlette app"),
        ):
            result = results[server, label]
            figures.append(
                Figure(
                    f"GET /healthz, {name}, {server}, {WORKERS} workers",
                    result.wrk.requests_per_second,
                    "req/s",
                    anchor=f"bare ASGI app, {server}",
                    anchor_value=bare.wrk.requests_per_second,
                    target="within 10% of the bare app" if label == "healthz" else None,
                    notes={
                        "p99_ms": result.wrk.p99_ms,
                        "per_cpu_second": result.per_cpu_second,
                        "anchor_per_cpu_second": bare.per_cpu_second,
                    },
                )
            )
    for label, name in (("healthz", "GET /healthz"), ("check", "POST /v1/authz/check")):
        uvicorn, granian = results["uvicorn", label], results["granian", label]
        for unit, ours, theirs in (
            ("req/s", granian.wrk.requests_per_second, uvicorn.wrk.requests_per_second),
            ("req/CPU-s", granian.per_cpu_second, uvicorn.per_cpu_second),
        ):
            figures.append(
                Figure(
                    f"{name}, granian against uvicorn, {WORKERS} workers",
                    ours,
                    unit,
                    anchor="uvicorn",
                    anchor_value=theirs,
                    notes={
                        "p99_ms": granian.wrk.p99_ms,
                        "anchor_p99_ms": uvicorn.wrk.p99_ms,
                        "errors": granian.wrk.errors + uvicorn.wrk.errors,
                    },
                )
            )
    return figures
