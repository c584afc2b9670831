"""Password logins per core against what the argon2id cost allows.

The ceiling: argon2id verifications per CPU-second at the configured (OWASP) cost, measured in
this process. The figure: full password logins through HTTP (the login form with its CSRF token,
benchmarks/lua/login.lua, driven by wrk) per CPU-second the server process spent. Dividing by the
server's CPU time, not wall time, makes the ratio "per core" whatever else runs on the machine.
Target: >= 70% of the ceiling.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from argon2 import PasswordHasher, Type

from benchmarks.harness import Figure, Size
from benchmarks.servers import ROOT, RunningServer, rampart_server, run_wrk

LUA = Path(__file__).resolve().parent / "lua" / "login.lua"
EMAIL = "bench@example.com"
PASSWORD = "harbour login 2718 ferry"  # noqa: S105 - a throwaway account in a temp directory
OWASP = {"memory_cost": 19456, "time_cost": 2, "parallelism": 1}


def argon2_verifies_per_core_second(seconds: float) -> float:
    hasher = PasswordHasher(
        time_cost=OWASP["time_cost"],
        memory_cost=OWASP["memory_cost"],
        parallelism=OWASP["parallelism"],
        hash_len=32,
        salt_len=16,
        type=Type.ID,
    )
    stored = hasher.hash(PASSWORD)
    count = 0
    cpu_start = time.process_time()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        hasher.verify(stored, PASSWORD)
        count += 1
    return count / (time.process_time() - cpu_start)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its live descendants."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
            pending.extend(int(c) for c in children)
        except OSError:
            continue
    return total


def _create_user(server: RunningServer) -> None:
    env = {**os.environ, "RAMPART_DATA_DIR": str(server.data_dir), "RAMPART_LOG_LEVEL": "WARNING"}
    subprocess.run(
        [str(ROOT / ".venv/bin/rampart"), "user", "create", EMAIL, "--password-stdin", "--json"],
        input=PASSWORD + "\n",
        env=env,
        cwd=server.data_dir.parent,
        capture_output=True,
        text=True,
        check=True,
    )


def run(size: Size) -> list[Figure]:
    seconds = size.pick(15, 5, 1)
    ceiling = argon2_verifies_per_core_second(size.pick(10, 3, 1))
    figures = [
        Figure(
            "argon2id verifications per core-second (m=19456 KiB, t=2, p=1)",
            ceiling,
            "verifies/s/core",
            notes={"parameters": OWASP},
        )
    ]
    with rampart_server(workers=1) as server:
        _create_user(server)
        os.environ["RAMPART_BENCH_EMAIL"] = EMAIL
        os.environ["RAMPART_BENCH_PASSWORD"] = PASSWORD
        run_wrk(server.base_url + "/login", seconds=2, connections=4, threads=1, script=LUA)
        cpu_before = _cpu_seconds(server.process.pid)
        result = run_wrk(
            server.base_url + "/login", seconds=seconds, connections=8, threads=2, script=LUA
        )
        cpu_used = _cpu_seconds(server.process.pid) - cpu_before
    logins = result.requests_per_second * seconds
    per_core = logins / cpu_used if cpu_used > 0 else 0.0
    figures.append(
        Figure(
            "password logins per server core-second (HTTP form + CSRF, wrk, 1 worker)",
            per_core,
            "logins/s/core",
            anchor="argon2id ceiling at the same cost",
            anchor_value=ceiling,
            target=">= 0.70x the argon2id ceiling",
            notes={
                "logins_per_second_wall": result.requests_per_second,
                "server_cpu_seconds": cpu_used,
                "p50_ms": result.p50_ms,
                "p99_ms": result.p99_ms,
                "errors": result.errors,
            },
        )
    )
    return figures
