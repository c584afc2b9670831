"""Identity provider side by side with panva's oidc-provider (npm, v9), same machine, one run,
driven by wrk with Lua scripts:

* wrk's own ceiling first (a trivial node HTTP server), so no figure hides behind the generator;
* client_credentials (client_secret_basic) -> RFC 9068 JWT access token signed ES256, Rampart with
  its audit entry written per token, vs oidc-provider (1 process, and a cluster of 2);
* RFC 7662 introspection, authenticated: Rampart introspects its JWT (signature, claims,
  revocation table), oidc-provider an opaque token (it refuses to introspect JWTs).

Servers are measured in 2 interleaved rounds with their CPU seconds (req per CPU-second is the
load-independent ratio). Rampart runs `python -m server --workers 2` (what `rampart serve` execs:
uvicorn, uvloop, httptools) on the embedded default (SQLite) unless ``BENCH_IDP_DATABASE_URL``
names another database.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import Figure, Size
from benchmarks.servers import ROOT, WrkResult, free_port, run_wrk, tree_cpu_seconds, wait_http

ANCHOR_DIR = ROOT / "benchmarks" / "anchors" / "oidc-provider"
_SERVER_PIDS: dict[str, int] = {}  # base URL -> process group leader, for CPU accounting
LUA = ROOT / "benchmarks" / "lua"
CONNECTIONS = 64


def _npm_ci() -> None:
    if not (ANCHOR_DIR / "node_modules" / "oidc-provider").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is required for the oidc-provider anchor")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=ANCHOR_DIR, check=True)


@contextmanager
def _rampart(env: dict[str, str], data_dir: Path, workers: int = 2) -> Iterator[str]:
    """`rampart init`, then the server with ``workers`` processes (start-up waits up to 3 minutes:
    a loaded machine imports slowly)."""
    full_env = {
        **os.environ,
        "RAMPART_DATA_DIR": str(data_dir),
        "RAMPART_LOG_LEVEL": "WARNING",
        **env,
    }
    subprocess.run(
        [str(ROOT / ".venv/bin/rampart"), "init"], cwd=ROOT, env=full_env, check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    port = free_port()
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/python"), "-m", "server",
         "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    _SERVER_PIDS[base] = process.pid
    try:
        wait_http(base + "/healthz", timeout=180)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def _node(script: str, env: dict[str, str], ready_path: str) -> Iterator[str]:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is required for the oidc-provider anchor")
    port = free_port()
    process = subprocess.Popen(
        [node, script],
        cwd=ANCHOR_DIR,
        env={**os.environ, **env, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    _SERVER_PIDS[base] = process.pid
    try:
        wait_http(base + ready_path, timeout=30)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


def _post(url: str, basic: str, data: dict[str, str]) -> dict[str, object]:
    request = urllib.request.Request(  # noqa: S310 - loopback only
        url,
        data=urllib.parse.urlencode(data).encode(),
        headers={"Authorization": "Basic " + basic},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return dict(json.loads(response.read()))


def _basic(client_id: str, secret: str) -> str:
    return base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@dataclass
class Measured:
    """A wrk run plus the server's CPU seconds spent during it (for load-independent ratios)."""

    wrk: WrkResult
    requests: float
    cpu_seconds: float

    @property
    def per_cpu_second(self) -> float:
        return self.requests / self.cpu_seconds if self.cpu_seconds else 0.0


def _measure(base: str, path: str, script: str, env: dict[str, str], seconds: int) -> Measured:
    pid = _SERVER_PIDS[base]
    before = tree_cpu_seconds(pid)
    result = _wrk(base + path, script, env, seconds)
    cpu = tree_cpu_seconds(pid) - before
    return Measured(result, result.requests_per_second * seconds, cpu)


def _wrk(url: str, script: str, env: dict[str, str], seconds: int) -> WrkResult:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # wrk's Lua reads them with os.getenv
    try:
        return run_wrk(url, seconds=seconds, connections=CONNECTIONS, script=LUA / script)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _register_rampart_client(data_dir: Path) -> tuple[str, str]:
    """Create the benchmark client in the server's database (a separate process, same files)."""
    code = (
        "from core.database import unit_of_work\n"
        "from iam.oauth2.schemas import ClientSpec\n"
        "from iam.oauth2.service import apply_client\n"
        "with unit_of_work() as db:\n"
        "    a = apply_client(db, ClientSpec(name='bench', grant_types=['client_credentials'],"
        " scopes=['orders:read'], audiences=['https://orders.example']))\n"
        "    print(a.client.client_id, a.client_secret)\n"
    )
    env = {
        **os.environ,
        "RAMPART_DATA_DIR": str(data_dir),
        "RAMPART_LOG_LEVEL": "WARNING",
        **_database_env()[0],
    }
    out = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-c", code],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return out[-2], out[-1]


def _count_token_audits(data_dir: Path) -> int:
    code = (
        "from sqlalchemy import func, select\n"
        "from core.audit.models import AuditEntry\n"
        "from core.database import unit_of_work\n"
        "with unit_of_work() as db:\n"
        "    print(db.execute(select(func.count()).select_from(AuditEntry)"
        ".where(AuditEntry.event_type == 'oauth2.token.issued')).scalar_one())\n"
    )
    env = {
        **os.environ,
        "RAMPART_DATA_DIR": str(data_dir),
        "RAMPART_LOG_LEVEL": "WARNING",
        **_database_env()[0],
    }
    out = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-c", code],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return int(out[-1])


def _figure(
    name: str, ours: list[Measured], anchor: list[Measured], anchor_name: str, **notes: object
) -> Figure:
    """Rates over all interleaved rounds; CPU-normalized rates beside them."""

    def rate(runs: list[Measured]) -> float:
        return sum(m.wrk.requests_per_second for m in runs) / len(runs)

    def per_cpu(runs: list[Measured]) -> float:
        cpu = sum(m.cpu_seconds for m in runs)
        return sum(m.requests for m in runs) / cpu if cpu else 0.0

    ours_cpu, anchor_cpu = per_cpu(ours), per_cpu(anchor)
    return Figure(
        name, rate(ours), "req/s", anchor=anchor_name, anchor_value=rate(anchor),
        target=">= 1.0x oidc-provider",
        notes={
            "rounds_req_s": [round(m.wrk.requests_per_second) for m in ours],
            "anchor_rounds_req_s": [round(m.wrk.requests_per_second) for m in anchor],
            "p50_ms": ours[-1].wrk.p50_ms, "p99_ms": ours[-1].wrk.p99_ms,
            "anchor_p50_ms": anchor[-1].wrk.p50_ms, "anchor_p99_ms": anchor[-1].wrk.p99_ms,
            "errors": sum(m.wrk.errors for m in ours),
            "anchor_errors": sum(m.wrk.errors for m in anchor),
            "req_per_cpu_s": round(ours_cpu), "anchor_req_per_cpu_s": round(anchor_cpu),
            "cpu_normalized_ratio": round(ours_cpu / anchor_cpu, 3) if anchor_cpu else None,
            **notes,
        },
    )  # fmt: skip


def _database_env() -> tuple[dict[str, str], str]:
    url = os.environ.get("BENCH_IDP_DATABASE_URL")
    if url:
        return {"RAMPART_DATABASE_URL": url}, "PostgreSQL" if "postgres" in url else url
    return {}, "SQLite (embedded default)"


def run(size: Size) -> list[Figure]:
    seconds = size.pick(10, 5, 1)
    rounds = 2
    _npm_ci()
    figures: list[Figure] = []

    with _node("trivial.js", {}, "/") as trivial:
        ceiling = run_wrk(trivial + "/", seconds=seconds, connections=CONNECTIONS)
    figures.append(
        Figure(
            "wrk ceiling: trivial node HTTP server (wrk -t2 -c64)",
            ceiling.requests_per_second,
            "req/s",
            notes={"p50_ms": ceiling.p50_ms, "p99_ms": ceiling.p99_ms},
        )
    )

    anchor_id, anchor_secret = "bench", "bench-" + secrets.token_urlsafe(32)
    anchor_basic = _basic(anchor_id, anchor_secret)
    anchor_env = {"CLIENT_ID": anchor_id, "CLIENT_SECRET": anchor_secret}
    op_auth = {"BENCH_BASIC": anchor_basic}
    discovery = "/.well-known/openid-configuration"
    env, database = _database_env()
    data_dir = Path(tempfile.mkdtemp(prefix="rampart-bench-idp-")) / "var"
    ours_token: list[Measured] = []
    ours_introspect: list[Measured] = []
    op_token: list[Measured] = []
    op_introspect: list[Measured] = []
    # All three servers up at once and measured in interleaved rounds, so both sides see the
    # same machine load (other work shares these cores).
    with (
        _node("server.js", {**anchor_env, "WORKERS": "1"}, discovery) as op,
        _node("server.js", {**anchor_env, "ACCESS_TOKEN_FORMAT": "opaque"}, discovery) as opq,
        _rampart(env, data_dir) as base_url,
    ):
        opaque = str(
            _post(opq + "/token", anchor_basic,
                  {"grant_type": "client_credentials", "scope": "orders:read"})["access_token"]
        )  # fmt: skip
        op_answer = _post(opq + "/token/introspection", anchor_basic, {"token": opaque})
        assert op_answer["active"] is True  # noqa: S101
        # The server's own floor (edge middleware, routing) before any OAuth work.
        ours_health = run_wrk(base_url + "/healthz", seconds=seconds, connections=CONNECTIONS)
        client_id, secret = _register_rampart_client(data_dir)
        basic = _basic(client_id, secret)
        ours_auth = {"BENCH_BASIC": basic}
        jwt = str(
            _post(base_url + "/oauth2/token", basic,
                  {"grant_type": "client_credentials", "scope": "orders:read"})["access_token"]
        )  # fmt: skip
        assert _post(base_url + "/oauth2/introspect", basic, {"token": jwt})["active"] is True  # noqa: S101
        before = _count_token_audits(data_dir)
        for _ in range(rounds):
            op_token.append(_measure(op, "/token", "idp_token.lua", op_auth, seconds))
            ours_token.append(
                _measure(base_url, "/oauth2/token", "idp_token.lua", ours_auth, seconds)
            )
            op_introspect.append(
                _measure(opq, "/token/introspection", "idp_introspect.lua",
                         {**op_auth, "BENCH_TOKEN": opaque}, seconds)
            )  # fmt: skip
            ours_introspect.append(
                _measure(base_url, "/oauth2/introspect", "idp_introspect.lua",
                         {**ours_auth, "BENCH_TOKEN": jwt}, seconds)
            )  # fmt: skip
        audited = _count_token_audits(data_dir) - before
    with _node("server.js", {**anchor_env, "WORKERS": "2"}, discovery) as op2:
        op_token_cluster = [_measure(op2, "/token", "idp_token.lua", op_auth, seconds)]
    shutil.rmtree(data_dir.parent, ignore_errors=True)

    issued = sum(m.requests for m in ours_token)
    figures.append(
        Figure(
            "Rampart /healthz, 2 workers (server + middleware floor)",
            ours_health.requests_per_second, "req/s",
            anchor="trivial node HTTP server", anchor_value=ceiling.requests_per_second,
            notes={"p50_ms": ours_health.p50_ms, "p99_ms": ours_health.p99_ms},
        )
    )  # fmt: skip
    figures.append(
        _figure(
            f"client_credentials JWT ES256 + audit, Rampart 2 workers, {database}",
            ours_token, op_token, "oidc-provider, 1 node process",
            audit_entries_written=audited, tokens_issued=round(issued), seconds=seconds,
        )
    )  # fmt: skip
    figures.append(
        _figure(
            "client_credentials vs oidc-provider cluster of 2 (same cores)",
            ours_token[-1:], op_token_cluster, "oidc-provider, node cluster x2",
        )
    )  # fmt: skip
    figures.append(
        _figure(
            f"introspection (JWT, revocation checked), Rampart 2 workers, {database}",
            ours_introspect, op_introspect, "oidc-provider, 1 process, opaque token",
        )
    )  # fmt: skip
    return figures
