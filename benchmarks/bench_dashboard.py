"""Dashboard overview page over 1,000,000 evidence records (target: <= 200 ms), on SQLite and
PostgreSQL: a real `rampart serve` (1 worker) with the default library (PCI DSS v4.0.1 and GDPR),
a compliance officer's login session, GET /dashboard (posture per framework plus the 53-point
weekly trend of each, rendered) driven by wrk at concurrency 1 (benchmarks/lua/dashboard.lua),
and timed request by request when wrk is missing. Anchor: the same page over one record per
check. Rows are bulk-inserted as bench_compliance does (the page reads status and time)."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from pathlib import Path

import httpx

from benchmarks.bench_audit import _postgres_database, _sqlite_database
from benchmarks.bench_compliance import _fill
from benchmarks.harness import Figure, Size
from benchmarks.servers import ROOT, RunningServer, rampart_server, run_wrk
from compliance.checks import load_all
from compliance.checks.base import REGISTRY

TARGET_MS = 200.0
LUA = Path(__file__).parent / "lua" / "dashboard.lua"
EMAIL = "officer@bench.example"
PASSWORD = "harbour ledger 2718 ferry"  # noqa: S105 - a throwaway benchmark account


def run(size: Size) -> list[Figure]:
    stored = size.pick(1_000_000, 100_000, 1_000)
    figures: list[Figure] = []
    for backend, database in (("SQLite", _sqlite_database), ("PostgreSQL", _postgres_database)):
        with database() as engine:
            load_all()
            check_ids = sorted(REGISTRY)
            _fill(engine, check_ids, len(check_ids))
            url = engine.url.render_as_string(hide_password=False)
            with rampart_server(env={"RAMPART_DATABASE_URL": url}) as server:
                cookie = _login(server, url)
                small = _measure(server, cookie, size)
                _fill(engine, check_ids, stored - len(check_ids))
                large = _measure(server, cookie, size)
        figures.append(
            Figure(
                f"dashboard overview page, {stored:,} evidence records ({backend})",
                float(large["p50_ms"]),
                "ms",
                anchor=f"same page over {len(check_ids)} records",
                anchor_value=float(small["p50_ms"]),
                higher_is_better=False,
                target=f"<= {TARGET_MS:g} ms",
                notes=large,
            )
        )
    return figures


def _measure(server: RunningServer, cookie: str, size: Size) -> dict[str, float | str]:
    page = server.base_url + "/dashboard"
    with httpx.Client(headers={"Cookie": cookie}, timeout=60) as client:
        first = client.get(page)
        first.raise_for_status()
        if "Compliance posture" not in first.text:
            raise RuntimeError(f"not the overview: {first.text[:300]}")
        samples = []
        for _ in range(size.pick(20, 5, 2)):
            start = time.perf_counter()
            client.get(page).raise_for_status()
            samples.append((time.perf_counter() - start) * 1000)
    result: dict[str, float | str] = {
        "p50_ms": statistics.median(samples),
        "max_ms": max(samples),
        "tool": "httpx, sequential",
    }
    try:
        os.environ["RAMPART_BENCH_COOKIE"] = cookie
        wrk = run_wrk(page, seconds=size.pick(15, 5, 1), connections=1, threads=1, script=LUA)
    except (RuntimeError, subprocess.CalledProcessError):
        return result
    if wrk.errors:
        raise RuntimeError(f"wrk saw {wrk.errors} failed requests")
    return {
        "p50_ms": wrk.p50_ms,
        "p99_ms": wrk.p99_ms,
        "requests_per_second": wrk.requests_per_second,
        "tool": "wrk -c1",
        "httpx_p50_ms": result["p50_ms"],
    }


def _login(server: RunningServer, database_url: str) -> str:
    """A compliance officer created with the CLI, logged in through the login form: the cookie."""
    env = {
        **os.environ,
        "RAMPART_DATA_DIR": str(server.data_dir),
        "RAMPART_DATABASE_URL": database_url,
        "RAMPART_LOG_LEVEL": "WARNING",
    }
    created = subprocess.run(
        [
            *(str(ROOT / ".venv/bin/rampart"), "user", "create", EMAIL),
            *("--password-stdin", "--json", "--role", "compliance_officer"),
        ],
        input=PASSWORD + "\n",
        env=env,
        cwd=server.data_dir.parent,
        capture_output=True,
        text=True,
    )
    if created.returncode and "exists" not in created.stderr:
        raise RuntimeError(created.stderr)
    with httpx.Client(base_url=server.base_url, follow_redirects=False) as client:
        form = client.get("/login?next=/dashboard")
        csrf = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        done = client.post(
            "/login",
            data={"email": EMAIL, "password": PASSWORD, "csrf_token": csrf, "next": "/dashboard"},
        )
        if done.status_code != 303:
            raise RuntimeError(f"login failed: {done.status_code} {done.text[:200]}")
        return "; ".join(f"{name}={value}" for name, value in client.cookies.items())
