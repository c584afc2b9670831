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
import statistics
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.harness import Figure, Size
from benchmarks.openbao_raft import openbao_raft
from benchmarks.servers import WrkResult, rampart_server, run_wrk, scratch_postgres, service_bearer

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


def _postgres_database() -> AbstractContextManager[str]:
    return scratch_postgres("rampart_bench_vault", PG_ADMIN)


def _service_figures(label: str, database_url: str | None, size: Size) -> list[Figure]:
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
        singles = size.pick(3000, 500, 20)
        batches = size.pick(30, 5, 1)
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
        pipeline_rate = _lean_batch_pipeline(batches)
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
        Figure(
            f"vault lean batch route pipeline x{BATCH} (parse, draft, store, answer; "
            f"no HTTP, 1 thread), {label}",
            pipeline_rate,
            "values/s",
            target=">= 50k values/s",
        ),
    ]


def _lean_batch_pipeline(batches: int) -> float:
    """Values per second through what the lean batch route does with a body, minus the socket
    and the group commit: strict JSON parse and validation, preparing, drafting (tokens and
    encryption outside the transaction), one unit of work storing the drafted rows, and the
    JSON answer."""
    from core.database import unit_of_work
    from core.strict_json import loads, validated_body
    from vault import service
    from vault.hot_endpoints import tokenize_request, tokenized_batch_response
    from vault.schemas import TokenizeBatchIn

    body = json.dumps({"items": [{"value": "4111111111111111"}] * BATCH}).encode()
    started = time.perf_counter()
    for _ in range(batches):
        parsed = validated_body(TokenizeBatchIn, loads(body))
        prepared = service.prepare_batch(PAN, [tokenize_request(item) for item in parsed.items])
        draft = service.draft_batch("bench", prepared, "client:bench")
        assert draft is not None  # noqa: S101 - the keys are in memory after the warm-up
        with unit_of_work() as session:
            outcomes, _event = service.store_drafted(session, "bench", draft, "client:bench")
        tokenized_batch_response(outcomes)
    return batches * BATCH / (time.perf_counter() - started)


@dataclass(frozen=True)
class _Rampart:
    """A running `rampart serve` under test, or why it could not be benchmarked."""

    label: str
    url: str = ""
    lua_env: dict[str, str] = field(default_factory=dict)
    blocked: str | None = None


@contextmanager
def _rampart(label: str, env: dict[str, str], bearer: str | None) -> Iterator[_Rampart]:
    started = False
    try:
        with _maybe_pg(env) as server_env, rampart_server(server_env, WORKERS) as server:
            started = True
            if bearer is None:
                cli_env = {**server_env, "RAMPART_DATA_DIR": str(server.data_dir)}
                bearer = service_bearer(server.base_url, cli_env, "bench-vault", (DETOKENIZE_RULE,))
            status, token = _probe(server.base_url, bearer)
            deadline = time.monotonic() + 30
            while status == 403 and time.monotonic() < deadline:  # every worker follows the
                time.sleep(0.5)  # policy change within its sync interval; wait for all
                status, token = _probe(server.base_url, bearer)
            if status != 201 or bearer is None:
                reason = (
                    f"no bearer accepted by the guard: POST /v1/vault/pan/tokens answers {status}"
                )
                yield _Rampart(label, blocked=reason)
                return
            lua_env = {"BENCH_BEARER": bearer, "BENCH_BATCH": str(BATCH), "BENCH_PAN_TOKEN": token}
            yield _Rampart(label, server.base_url, lua_env)
    except TimeoutError as exc:
        if started:  # not the start-up's: the measurement's own
            raise
        yield _Rampart(label, blocked=f"`rampart serve` did not become ready: {exc}")


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _rounds_note(results: list[WrkResult], per: float = 1.0) -> list[float]:
    return [round(result.requests_per_second * per, 1) for result in results]


def _http_figures(
    bao_addr: str, bao_env: dict[str, str], seconds: int, rounds: int
) -> list[Figure]:
    """OpenBao and both Rampart set-ups up together, measured in interleaved rounds (anchor,
    SQLite, PostgreSQL, again...): the machine's speed drifts by tens of percent over minutes
    here, and a ratio should compare runs taken under the same conditions. Each figure is the
    median over the rounds; the notes keep every round and the per-round ratios."""
    bearer = os.environ.get("BENCH_BEARER")
    kv_url = bao_addr + "/v1/secret/data/x"
    transit_url = bao_addr + "/v1/transit/encrypt/bench"
    with ExitStack() as stack:
        targets = [
            stack.enter_context(_rampart(label, env, bearer))
            for label, env in (
                ("SQLite (embedded default)", {}),
                ("PostgreSQL", {"RAMPART_DATABASE_URL": "__pg__"}),
            )
        ]
        live = [t for t in targets if t.blocked is None]
        runs: dict[tuple[str, str], list[WrkResult]] = {}

        def measure(
            key: tuple[str, str], url: str, script: str, env: dict[str, str], c: int
        ) -> None:
            runs.setdefault(key, []).append(_wrk(url, script, env, seconds, c))

        for _ in range(rounds):
            measure(("kv", ""), kv_url, "vault_openbao_kv_write.lua", bao_env, CONNECTIONS)
            for t in live:
                tokens = t.url + "/v1/vault/pan/tokens"
                measure(("tokenize", t.label), tokens, "vault_tokenize.lua", t.lua_env, CONNECTIONS)
        for _ in range(rounds):
            kv_script = "vault_openbao_kv_write.lua"
            measure(("kv calm", ""), kv_url, kv_script, bao_env, LATENCY_CONNECTIONS)
            for t in live:
                tokens = t.url + "/v1/vault/pan/tokens"
                detok = t.url + "/v1/vault/pan/detokenize"
                measure(("tokenize calm", t.label), tokens, "vault_tokenize.lua", t.lua_env, 4)
                measure(("detokenize calm", t.label), detok, "vault_detokenize.lua", t.lua_env, 4)
        measure(("transit", ""), transit_url, "vault_openbao_transit_encrypt.lua", bao_env, 32)
        for _ in range(rounds):
            batch_script = "vault_openbao_transit_batch.lua"
            measure(("transit batch", ""), transit_url, batch_script, bao_env, 4)
            for t in live:
                batch_url = t.url + "/v1/vault/pan/tokens/batch"
                measure(("batch", t.label), batch_url, "vault_tokenize_batch.lua", t.lua_env, 4)
    return _figures_of(runs, targets)


def _latency_figure(name: str, runs: list[WrkResult], target_ms: int) -> Figure:
    """The median p99 at the light load, with every round's p99, p50 and rate in the notes."""
    return Figure(
        name,
        _median([r.p99_ms for r in runs]),
        "ms p99",
        target=f"p99 < {target_ms} ms",
        notes={
            "p99_rounds": [r.p99_ms for r in runs],
            "p50_rounds": [r.p50_ms for r in runs],
            "req_per_s_rounds": _rounds_note(runs),
        },
    )


def _figures_of(
    runs: dict[tuple[str, str], list[WrkResult]], targets: list[_Rampart]
) -> list[Figure]:
    kv, kv_calm = runs[("kv", "")], runs[("kv calm", "")]
    transit, transit_batch = runs[("transit", "")], runs[("transit batch", "")]
    kv_rate = _median([r.requests_per_second for r in kv])
    batch_rate = _median([r.requests_per_second * BATCH for r in transit_batch])
    figures = [
        Figure(
            "OpenBao KV v2 write (Raft storage)",
            kv_rate,
            "req/s",
            notes={"rounds": _rounds_note(kv), **_notes(kv[-1])},
        ),
        Figure(
            f"OpenBao KV v2 write latency at {LATENCY_CONNECTIONS} connections",
            _median([r.p99_ms for r in kv_calm]),
            "ms p99",
            notes={"p99_rounds": [r.p99_ms for r in kv_calm], "p50_ms": kv_calm[-1].p50_ms},
        ),
        Figure(
            "OpenBao Transit encrypt",
            transit[0].requests_per_second,
            "req/s",
            notes=_notes(transit[0]),
        ),
        Figure(
            f"OpenBao Transit batch encrypt x{BATCH}",
            batch_rate,
            "values/s",
            notes={"rounds": _rounds_note(transit_batch, BATCH)},
        ),
    ]
    for t in targets:
        if t.blocked is not None:
            figures.append(
                Figure(
                    f"vault HTTP tokenize, {t.label}",
                    0.0,
                    "req/s",
                    anchor="OpenBao KV v2 write (Raft)",
                    anchor_value=kv_rate,
                    target=">= 1.5x (SQLite) / 1.0x (PostgreSQL), p99 < 10 ms",
                    notes={"blocked": t.blocked},
                )
            )
            continue
        single = runs[("tokenize", t.label)]
        calm = runs[("tokenize calm", t.label)]
        detok = runs[("detokenize calm", t.label)]
        batch = runs[("batch", t.label)]
        light = f"{LATENCY_CONNECTIONS} connections"
        ratios = [
            round(mine.requests_per_second / theirs.requests_per_second, 2)
            for mine, theirs in zip(single, kv, strict=True)
        ]
        figures += [
            Figure(
                f"vault HTTP tokenize, persisted+audited, {t.label}",
                _median([r.requests_per_second for r in single]),
                "req/s",
                anchor="OpenBao KV v2 write (Raft)",
                anchor_value=kv_rate,
                target=">= 1.5x (SQLite) / 1.0x (PostgreSQL)",
                notes={
                    "rounds": _rounds_note(single),
                    "ratio_per_round": ratios,
                    "connections": CONNECTIONS,
                    "workers": WORKERS,
                },
            ),
            _latency_figure(f"vault HTTP tokenize latency at {light}, {t.label}", calm, 10),
            _latency_figure(
                f"vault HTTP detokenize (audited, purpose) at {light}, {t.label}", detok, 5
            ),
            Figure(
                f"vault HTTP batch tokenize x{BATCH}, {t.label}",
                _median([r.requests_per_second * BATCH for r in batch]),
                "values/s",
                anchor="OpenBao Transit batch encrypt (persists nothing)",
                anchor_value=batch_rate,
                target=">= 50k values/s",
                notes={"rounds": _rounds_note(batch, BATCH)},
            ),
        ]
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


def run(size: Size) -> list[Figure]:
    seconds, rounds = size.pick((10, 3), (5, 2), (1, 1))
    with openbao_raft() as bao:
        bao_env = {"BENCH_VAULT_TOKEN": bao.token, "BENCH_BATCH": str(BATCH)}
        http = _http_figures(bao.addr, bao_env, seconds, rounds)
    kv_rate = http[0].value
    transit_batch_rate = http[3].value
    service = _service_figures("SQLite", None, size)
    with _postgres_database() as url:
        service += _service_figures("PostgreSQL", url, size)
    for figure in service:
        if "batch tokenize" in figure.name:
            figure.anchor = f"OpenBao Transit batch encrypt x{BATCH} (persists nothing)"
            figure.anchor_value = transit_batch_rate
        elif "service tokenize" in figure.name:
            figure.anchor = "OpenBao KV v2 write (Raft)"
            figure.anchor_value = kv_rate
    return http[:4] + service + http[4:]
