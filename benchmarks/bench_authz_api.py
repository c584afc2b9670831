"""The decision API over HTTP: `rampart serve` driven by wrk + Lua, single checks and batches of
1000 (target >= 20k decisions/s in batches). The bearer is a real client-credentials token of a
client linked to role:service (which may ask for decisions)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from base64 import b64encode
from pathlib import Path

from benchmarks.harness import Figure
from benchmarks.servers import ROOT, WrkResult, rampart_server, run_wrk

LUA = Path(__file__).resolve().parent / "lua"
BATCH = 1000
WORKERS = int(os.environ.get("BENCH_AUTHZ_WORKERS", "1"))
CLIENT_ID = "bench-authz"


def _rampart(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [str(ROOT / ".venv/bin/rampart"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout


def _bearer(base_url: str, env: dict[str, str]) -> str:
    created = json.loads(
        _rampart(
            env,
            "client",
            "create",
            CLIENT_ID,
            "--client-id",
            CLIENT_ID,
            "--grant",
            "client_credentials",
            "--json",
        )
    )
    secret = created.get("client_secret") or created.get("secret")
    current = json.loads(_rampart(env, "policy", "show", "--json"))["lines"]
    policy = Path(env["RAMPART_DATA_DIR"]) / "bench-policy.csv"
    policy.write_text("\n".join([*current, f"g, client:{CLIENT_ID}, role:service, rampart"]) + "\n")
    _rampart(env, "policy", "apply", str(policy), "--reason", "benchmark client")
    request = urllib.request.Request(  # noqa: S310 - loopback only
        base_url + "/oauth2/token",
        data=urllib.parse.urlencode({"grant_type": "client_credentials"}).encode(),
        headers={"Authorization": "Basic " + b64encode(f"{CLIENT_ID}:{secret}".encode()).decode()},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return str(json.loads(response.read())["access_token"])


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


def run(quick: bool) -> list[Figure]:
    seconds = 5 if quick else 15
    with rampart_server(env={"RAMPART_SCHEDULER": "off"}, workers=WORKERS) as server:
        env = {"RAMPART_DATA_DIR": str(server.data_dir)}
        bearer = _bearer(server.base_url, env)
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
    for figure in run(quick="--quick" in sys.argv):
        print(f"{figure.name}: {figure.value:,.0f} {figure.unit} {figure.notes}")
