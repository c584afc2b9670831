"""GDPR erasure (issue 15, item 11): ``workflow.process_request`` for an approved erasure of a
customer with 10,000 vault tokens, across the built-in connectors (vault crypto-shredding, audit
pseudonymisation, consent, IAM account) and one webhook connector (the example CRM, a real
``python -m examples.dsar_connector`` process on loopback, signed calls); target <= 5 s, on SQLite
and PostgreSQL. Anchor: the same erasure for a customer with 10 tokens."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from benchmarks.bench_audit import PG_ADMIN_URL
from benchmarks.harness import Figure, Size
from benchmarks.servers import ROOT, free_port, scratch_postgres, wait_http

SECONDS_TARGET = 5.0
SECRET = "bench-dsar-webhook-secret-0123456789"  # noqa: S105  (the bench CRM's own)
ENV_KEYS = ("RAMPART_DATA_DIR", "RAMPART_DATABASE_URL", "RAMPART_GDPR_ALLOW_PRIVATE_NETWORKS")


def run(size: Size) -> list[Figure]:
    tokens = size.pick(10_000, 2_000, 100)
    figures: list[Figure] = []
    for backend, database in (("SQLite", _sqlite_url), ("PostgreSQL", _postgres_url)):
        with database() as url:
            seconds, anchor, outcomes = _erasures(url, tokens)
        figures.append(
            Figure(
                f"GDPR erasure, {tokens:,} vault tokens, built-ins + 1 webhook ({backend})",
                seconds,
                "s",
                anchor="same erasure, 10 tokens",
                anchor_value=anchor,
                higher_is_better=False,
                target=f"<= {SECONDS_TARGET:g} s",
                notes={"outcomes": outcomes},
            )
        )
    return figures


@contextmanager
def _sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="rampart-bench-dsar-") as directory:
        yield f"sqlite:///{Path(directory) / 'dsar.db'}"


def _postgres_url() -> AbstractContextManager[str]:
    return scratch_postgres("rampart_bench_dsar", PG_ADMIN_URL)


@contextmanager
def _crm(subjects: list[str]) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "DSAR_CONNECTOR_SECRET": SECRET,
        "DSAR_CONNECTOR_PORT": str(port),
        "DSAR_CRM_SUBJECTS": ",".join(subjects),
    }
    process = subprocess.Popen([sys.executable, "-m", "examples.dsar_connector"], cwd=ROOT, env=env)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}/rampart/dsar"
    finally:
        process.terminate()
        process.wait(10)


def _erasures(database_url: str, tokens: int) -> tuple[float, float, str]:
    from core import migrations
    from core.database import get_engine, reset_engine_cache, unit_of_work
    from core.kms.keyfile import create_local_key_file
    from core.kms.provider import reset_key_provider
    from core.settings import get_settings
    from vault.keys import forget_cached_scopes

    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    data_dir = Path(tempfile.mkdtemp(prefix="rampart-bench-dsar-")) / "var"
    data_dir.mkdir(parents=True)
    os.environ.update(
        RAMPART_DATA_DIR=str(data_dir),
        RAMPART_DATABASE_URL=database_url,
        RAMPART_GDPR_ALLOW_PRIVATE_NETWORKS="true",
    )
    get_settings.cache_clear()
    reset_engine_cache()
    reset_key_provider()
    forget_cached_scopes()
    try:
        migrations.upgrade(get_engine())
        create_local_key_file(get_settings().resolved_local_key_file)
        warm, small = _customer(10, "warm"), _customer(10, "small")
        big = _customer(tokens, "big")
        with _crm([warm, small, big]) as url:
            from compliance.gdpr import connector_service

            with unit_of_work() as session:
                connector_service.create_webhook(
                    session,
                    name="crm",
                    url=url,
                    types=["access", "erasure"],
                    secret=SECRET,
                    actor="bench",
                )
            _timed_erasure(warm)  # first imports, connections and key caches
            anchor, _ = _timed_erasure(small)
            seconds, outcomes = _timed_erasure(big)
        return seconds, anchor, outcomes
    finally:
        reset_engine_cache()
        reset_key_provider()
        forget_cached_scopes()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


def _customer(tokens: int, label: str) -> str:
    from core.database import unit_of_work
    from iam.accounts.service import register_user
    from vault.records import TokenizeRequest
    from vault.service import tokenize_batch

    with unit_of_work() as session:
        user = register_user(session, f"{label}@shop.example", name=label, roles=["customer"])
        subject = str(user.id)
    for start in range(0, tokens, 1000):
        count = min(1000, tokens - start)
        with unit_of_work() as session:
            tokenize_batch(
                session,
                tenant="shop",
                token_type="email",  # noqa: S106
                items=[
                    TokenizeRequest(f"{label}{start + i}@shop.example", subject=subject)
                    for i in range(count)
                ],
            )
    return subject


def _timed_erasure(subject: str) -> tuple[float, str]:
    from sqlalchemy import select

    from compliance.gdpr import decisions, service, workflow
    from compliance.gdpr.connectors.base import SubjectRef
    from compliance.gdpr.models import DsarOutcome
    from core.database import unit_of_work

    with unit_of_work() as session:
        request = service.file_request(
            session,
            type="erasure",
            subject=SubjectRef(subject, None),
            channel="officer",
            actor="user:bench",
            identity_verified=True,
        )
        decisions.start(session, request.id, actor="user:bench")
        decisions.approve(session, request.id, actor="user:bench")
        request_id = request.id
    started = time.perf_counter()
    state = workflow.process_request(request_id)
    seconds = time.perf_counter() - started
    with unit_of_work(read_only=True) as session:
        rows = session.scalars(select(DsarOutcome).where(DsarOutcome.request_id == request_id))
        outcomes = ", ".join(f"{o.connector}={o.status}:{o.rows}" for o in rows)
    if state != "completed":
        raise RuntimeError(f"the erasure ended {state}: {outcomes}")
    return seconds, outcomes
