"""Tokenization vault vs OpenBao (Raft storage, persisted) on this machine, in one run.

* OpenBao: KV v2 writes, Transit encrypt and Transit batch encrypt, driven by wrk + Lua.
* Rampart over HTTP (`rampart serve`, wrk + Lua), authenticated like a real service: a
  client-credentials token of a client holding the `service` role (or BENCH_BEARER).
* Rampart service layer in-process (same code the endpoints call, persisted and audited, one
  unit of work per call), on SQLite and PostgreSQL: where the time goes without HTTP.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from benchmarks.harness import Figure
from benchmarks.openbao_raft import openbao_raft
from benchmarks.servers import WrkResult, rampart_server, run_wrk, service_bearer

LUA = Path(__file__).resolve().parent / "lua"
# Both sides get the same load: wrk with this many connections (2 threads) for throughput, and
# a light load for latency. Rampart runs one worker process per core, as deployed.
CONNECTIONS = 32
LATENCY_CONNECTIONS = 4
WORKERS = 2
# The benchmark client may detokenize cards (the default policy gives services tokenize only).
DETOKENIZE_RULE = "p, client:bench-vault, rampart, vault/pan, detokenize, allow,"
BATCH = 1000
PAN = "pan"  # the token type benchmarked
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _wrk(
    url: str, script: str, env: dict[str, str], seconds: int, connections: int = CONNECTIONS
) -> WrkResult:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the Lua scripts read them with os.getenv
    try:
        return run_wrk(url, seconds=seconds, connections=connections, script=LUA / script)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _notes(result: WrkResult, **extra: object) -> dict[str, object]:
    return {"p50_ms": result.p50_ms, "p99_ms": result.p99_ms, "errors": result.errors, **extra}


@contextmanager
def _postgres_database() -> Iterator[str]:
    name = f"rampart_bench_vault_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _service_figures(label: str, database_url: str | None, quick: bool) -> list[Figure]:
    """Tokenize through vault.service in this process: one unit of work per call."""
    from core import migrations
    from core.database import get_engine, reset_engine_cache, unit_of_work
    from core.kms.keyfile import create_local_key_file
    from core.kms.provider import reset_key_provider
    from core.settings import get_settings
    from vault import access, service
    from vault.keys import forget_cached_scopes
    from vault.records import TokenizeRequest, TokenRecord

    data_dir = Path(tempfile.mkdtemp(prefix="rampart-bench-vault-")) / "var"
    data_dir.mkdir(parents=True)
    saved = {k: os.environ.get(k) for k in ("RAMPART_DATA_DIR", "RAMPART_DATABASE_URL")}
    os.environ["RAMPART_DATA_DIR"] = str(data_dir)
    if database_url:
        os.environ["RAMPART_DATABASE_URL"] = database_url
    else:
        os.environ.pop("RAMPART_DATABASE_URL", None)
    get_settings.cache_clear()
    reset_engine_cache()
    reset_key_provider()
    forget_cached_scopes()
    try:
        migrations.upgrade(get_engine())
        create_local_key_file(get_settings().resolved_local_key_file)
        singles = 500 if quick else 3000
        batches = 5 if quick else 30
        one = [TokenizeRequest("4111111111111111")]
        with unit_of_work() as session:  # warm: keys created and cached
            service.tokenize_batch(session, tenant="bench", token_type=PAN, items=one)
        latencies = []
        started = time.perf_counter()
        token = ""
        for _ in range(singles):
            t0 = time.perf_counter()
            with unit_of_work() as session:
                record = service.tokenize_batch(session, tenant="bench", token_type=PAN, items=one)[
                    0
                ]
            latencies.append(time.perf_counter() - t0)
            assert isinstance(record, TokenRecord)  # noqa: S101
            token = record.token
        single_rate = singles / (time.perf_counter() - started)
        latencies.sort()
        detok = []
        for _ in range(singles // 2):
            t0 = time.perf_counter()
            with unit_of_work() as session:
                access.detokenize_batch(
                    session, tenant="bench", token_type=PAN, tokens=[token], purpose="bench.run"
                )
            detok.append(time.perf_counter() - t0)
        detok.sort()
        items = [TokenizeRequest("4111111111111111") for _ in range(BATCH)]
        started = time.perf_counter()
        for _ in range(batches):
            with unit_of_work() as session:
                service.tokenize_batch(session, tenant="bench", token_type=PAN, items=items)
        batch_rate = batches * BATCH / (time.perf_counter() - started)
    finally:
        reset_engine_cache()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()
        shutil.rmtree(data_dir.parent, ignore_errors=True)
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    return [
        Figure(
            f"vault service tokenize (no HTTP, 1 thread), {label}",
            single_rate,
            "ops/s",
            notes={"p50_ms": latencies[len(latencies) // 2] * 1000, "p99_ms": p99},
        ),
        Figure(
            f"vault service detokenize (no HTTP, 1 thread), {label}",
            len(detok) / sum(detok),
            "ops/s",
            notes={
                "p50_ms": detok[len(detok) // 2] * 1000,
                "p99_ms": detok[int(len(detok) * 0.99)] * 1000,
            },
        ),
        Figure(
            f"vault service batch tokenize x{BATCH} (no HTTP, 1 thread), {label}",
            batch_rate,
            "values/s",
            target=">= 50k values/s",
        ),
    ]


def _http_figures(kv: WrkResult, transit_batch_rate: float, seconds: int) -> list[Figure]:
    bearer = os.environ.get("BENCH_BEARER")
    figures: list[Figure] = []
    for label, env in (
        ("SQLite (embedded default)", {}),
        ("PostgreSQL", {"RAMPART_DATABASE_URL": "__pg__"}),
    ):
        try:
            figures += _http_run(label, env, bearer, kv, transit_batch_rate, seconds)
        except TimeoutError as exc:
            figures.append(_blocked(label, kv, f"`rampart serve` did not become ready: {exc}"))
    return figures


def _blocked(label: str, kv: WrkResult, reason: str) -> Figure:
    return Figure(
        f"vault HTTP tokenize, {label}",
        0.0,
        "req/s",
        anchor="OpenBao KV v2 write (Raft)",
        anchor_value=kv.requests_per_second,
        target=">= 1.5x (SQLite) / 1.0x (PostgreSQL), p99 < 10 ms",
        notes={"blocked": reason},
    )


def _http_run(
    label: str,
    env: dict[str, str],
    bearer: str | None,
    kv: WrkResult,
    transit_batch_rate: float,
    seconds: int,
) -> list[Figure]:
    figures: list[Figure] = []
    with _maybe_pg(env) as server_env, rampart_server(env=server_env, workers=WORKERS) as server:
        if bearer is None:
            cli_env = {**server_env, "RAMPART_DATA_DIR": str(server.data_dir)}
            bearer = service_bearer(server.base_url, cli_env, "bench-vault", (DETOKENIZE_RULE,))
        status, token = _probe(server.base_url, bearer)
        deadline = time.monotonic() + 30
        while status == 403 and time.monotonic() < deadline:  # every worker follows the policy
            time.sleep(0.5)  # change within its sync interval; the benchmark waits for all
            status, token = _probe(server.base_url, bearer)
        if status != 201 or bearer is None:
            reason = (
                f"no bearer accepted by the zero-trust guard: POST /v1/vault/pan/tokens "
                f"answers {status}"
            )
            return [_blocked(label, kv, reason)]
        env_lua = {"BENCH_BEARER": bearer, "BENCH_BATCH": str(BATCH), "BENCH_PAN_TOKEN": token}
        tokens_url = server.base_url + "/v1/vault/pan/tokens"
        single = _wrk(tokens_url, "vault_tokenize.lua", env_lua, seconds)
        figures.append(
            Figure(
                f"vault HTTP tokenize, persisted+audited, {label}",
                single.requests_per_second,
                "req/s",
                anchor="OpenBao KV v2 write (Raft)",
                anchor_value=kv.requests_per_second,
                target=">= 1.5x (SQLite) / 1.0x (PostgreSQL)",
                notes=_notes(single, connections=CONNECTIONS, workers=WORKERS),
            )
        )
        calm = _wrk(tokens_url, "vault_tokenize.lua", env_lua, seconds, LATENCY_CONNECTIONS)
        figures.append(
            Figure(
                f"vault HTTP tokenize latency at {LATENCY_CONNECTIONS} connections, {label}",
                calm.p99_ms,
                "ms p99",
                target="p99 < 10 ms",
                notes=_notes(calm, req_per_s=calm.requests_per_second),
            )
        )
        detokenize_url = server.base_url + "/v1/vault/pan/detokenize"
        detok = _wrk(detokenize_url, "vault_detokenize.lua", env_lua, seconds, LATENCY_CONNECTIONS)
        figures.append(
            Figure(
                f"vault HTTP detokenize (audited, purpose) at {LATENCY_CONNECTIONS} connections, "
                f"{label}",
                detok.p99_ms,
                "ms p99",
                target="p99 < 5 ms",
                notes=_notes(detok, req_per_s=detok.requests_per_second),
            )
        )
        batch = _wrk(
            server.base_url + "/v1/vault/pan/tokens/batch",
            "vault_tokenize_batch.lua",
            env_lua,
            seconds,
            connections=4,
        )
        figures.append(
            Figure(
                f"vault HTTP batch tokenize x{BATCH}, {label}",
                batch.requests_per_second * BATCH,
                "values/s",
                anchor="OpenBao Transit batch encrypt (persists nothing)",
                anchor_value=transit_batch_rate,
                target=">= 50k values/s",
                notes=_notes(batch),
            )
        )
    return figures


@contextmanager
def _maybe_pg(env: dict[str, str]) -> Iterator[dict[str, str]]:
    if env.get("RAMPART_DATABASE_URL") != "__pg__":
        yield env
        return
    with _postgres_database() as url:
        yield {**env, "RAMPART_DATABASE_URL": url}


def _probe(base_url: str, bearer: str | None) -> tuple[int, str]:
    """The status of one tokenize, and the token (for the detokenize run)."""
    request = urllib.request.Request(  # noqa: S310 - loopback
        base_url + "/v1/vault/pan/tokens",
        data=b'{"value":"4111111111111111"}',
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {bearer or 'none'}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return int(response.status), str(json.loads(response.read())["token"])
    except urllib.error.HTTPError as exc:
        return int(exc.code), ""


def run(quick: bool) -> list[Figure]:
    seconds = 5 if quick else 15
    figures: list[Figure] = []
    with openbao_raft() as bao:
        env = {"BENCH_VAULT_TOKEN": bao.token, "BENCH_BATCH": str(BATCH)}
        kv_url = bao.addr + "/v1/secret/data/x"
        kv = _wrk(kv_url, "vault_openbao_kv_write.lua", env, seconds)
        kv_calm = _wrk(kv_url, "vault_openbao_kv_write.lua", env, seconds, LATENCY_CONNECTIONS)
        transit = _wrk(
            bao.addr + "/v1/transit/encrypt/bench",
            "vault_openbao_transit_encrypt.lua",
            env,
            seconds,
        )
        transit_batch = _wrk(
            bao.addr + "/v1/transit/encrypt/bench",
            "vault_openbao_transit_batch.lua",
            env,
            seconds,
            connections=4,
        )
    transit_batch_rate = transit_batch.requests_per_second * BATCH
    figures += [
        Figure(
            "OpenBao KV v2 write (Raft storage)", kv.requests_per_second, "req/s", notes=_notes(kv)
        ),
        Figure(
            f"OpenBao KV v2 write latency at {LATENCY_CONNECTIONS} connections",
            kv_calm.p99_ms,
            "ms p99",
            notes=_notes(kv_calm, req_per_s=kv_calm.requests_per_second),
        ),
        Figure(
            "OpenBao Transit encrypt", transit.requests_per_second, "req/s", notes=_notes(transit)
        ),
        Figure(
            f"OpenBao Transit batch encrypt x{BATCH}",
            transit_batch_rate,
            "values/s",
            notes=_notes(transit_batch),
        ),
    ]
    figures += _service_figures("SQLite", None, quick)
    with _postgres_database() as url:
        figures += _service_figures("PostgreSQL", url, quick)
    for figure in figures:
        if "batch tokenize" in figure.name:
            figure.anchor = f"OpenBao Transit batch encrypt x{BATCH} (persists nothing)"
            figure.anchor_value = transit_batch_rate
        elif "service tokenize" in figure.name:
            figure.anchor = "OpenBao KV v2 write (Raft)"
            figure.anchor_value = kv.requests_per_second
    figures += _http_figures(kv, transit_batch_rate, seconds)
    return figures
