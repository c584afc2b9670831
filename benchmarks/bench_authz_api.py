"""The decision API over HTTP: `rampart serve` driven by wrk + Lua, single checks and batches of
1000 (target >= 20k decisions/s in batches). The bearer is a real client-credentials token of a
client linked to role:service (which may ask for decisions)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from benchmarks.harness import Figure, Size
from benchmarks.servers import WrkResult, rampart_server, run_wrk, service_bearer

LUA = Path(__file__).resolve().parent / "lua"
BATCH = 1000
WORKERS = int(os.environ.get("BENCH_AUTHZ_WORKERS", "1"))
CLIENT_ID = "bench-authz"


def _wrk(url: str, script: str, env: dict[str, str], seconds: int) -> WrkResult:
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)  # the Lua scripts read them with os.getenv
    try:
        return run_wrk(url, seconds=seconds, connections=16, script=LUA / script)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run(size: Size) -> list[Figure]:
    seconds = size.pick(15, 5, 1)
    with rampart_server(env={"RAMPART_SCHEDULER": "off"}, workers=WORKERS) as server:
        env = {"RAMPART_DATA_DIR": str(server.data_dir)}
        bearer = service_bearer(server.base_url, env, CLIENT_ID)
        lua_env = {"BENCH_BEARER": bearer, "BENCH_BATCH": str(BATCH)}
        single = _wrk(server.base_url + "/v1/authz/check", "authz_check.lua", lua_env, seconds)
        batch = _wrk(
            server.base_url + "/v1/authz/check-batch", "authz_check_batch.lua", lua_env, seconds
        )
    notes = {"errors_single": single.errors, "errors_batch": batch.errors, "workers": WORKERS}
    return [
        Figure(
            "decision API, single checks over HTTP",
            single.requests_per_second,
            "decisions/s",
            notes={"p50_ms": single.p50_ms, "p99_ms": single.p99_ms, **notes},
        ),
        Figure(
            f"decision API, batches of {BATCH} over HTTP",
            batch.requests_per_second * BATCH,
            "decisions/s",
            target=">= 20000",
            notes={"p50_ms": batch.p50_ms, "p99_ms": batch.p99_ms, **notes},
        ),
    ]


if __name__ == "__main__":
    for figure in run(Size.QUICK if "--quick" in sys.argv else Size.FULL):
        print(f"{figure.name}: {figure.value:,.0f} {figure.unit} {figure.notes}")
