"""Readiness probes: can this replica reach its database, its KMS and (when configured) Redis
right now? Each probe runs in a worker thread, all at once, each bounded by a timeout."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import anyio
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from core.logging import get_logger, mask_text
from core.settings import Settings

DATABASE_TIMEOUT_SECONDS = 2
REDIS_TIMEOUT_SECONDS = 1.0

log = get_logger(__name__)


@dataclass(frozen=True)
class ReadinessProbe:
    name: str
    probe: Callable[[], None]  # raises when the dependency is not usable
    timeout: float


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return None
    database = parsed.database or ""
    if database in ("", ":memory:"):
        raise ValueError("an in-memory SQLite database cannot serve several workers")
    return Path(database)


@functools.lru_cache(maxsize=8)
def _probe_engine(url: str) -> Engine:
    # NullPool: every probe opens a fresh connection, so a dead server is seen at once and the
    # request pool is neither used nor poisoned.
    return create_engine(
        url,
        poolclass=NullPool,
        connect_args={
            "connect_timeout": DATABASE_TIMEOUT_SECONDS,
            "options": f"-c statement_timeout={DATABASE_TIMEOUT_SECONDS * 1000}",
        },
    )


def probe_database(url: str) -> None:
    """SELECT 1 over a fresh connection. SQLite is opened read-write without creating the file."""
    sqlite_path = _sqlite_path(url)
    if sqlite_path is not None:
        uri = f"file:{quote(str(sqlite_path.resolve()))}?mode=rw"
        sqlite_connection = sqlite3.connect(uri, uri=True, timeout=DATABASE_TIMEOUT_SECONDS)
        try:
            sqlite_connection.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        finally:
            sqlite_connection.close()
        return
    with _probe_engine(url).connect() as connection:
        connection.execute(text("SELECT 1"))


def probe_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(
        url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    finally:
        client.close()


def probe_kms(_settings: Settings) -> None:
    """A wrap/unwrap round trip with the key-encryption key the application uses."""
    # Imported here: the KMS brings in its provider's client (hvac) only when probed.
    from core.kms.service import check_kms

    check_kms()


def readiness_probes(settings: Settings) -> list[ReadinessProbe]:
    probes = [
        ReadinessProbe(
            "database",
            functools.partial(probe_database, settings.resolved_database_url),
            DATABASE_TIMEOUT_SECONDS + 1.0,
        ),
        ReadinessProbe("kms", functools.partial(probe_kms, settings), settings.vault_timeout + 1.0),
    ]
    if settings.redis_url:
        probes.append(
            ReadinessProbe(
                "redis",
                functools.partial(probe_redis, settings.redis_url),
                REDIS_TIMEOUT_SECONDS * 2 + 0.5,
            )
        )
    return probes


async def _run_one(probe: ReadinessProbe, results: dict[str, bool]) -> None:
    try:
        with anyio.fail_after(probe.timeout):
            # abandon_on_cancel: a hung driver call must not hold the probe past its timeout.
            await anyio.to_thread.run_sync(probe.probe, abandon_on_cancel=True)
    except Exception as exc:
        log.warning(
            "readiness probe failed",
            probe=probe.name,
            error=type(exc).__name__,
            reason=mask_text(str(exc))[:300],
        )
        results[probe.name] = False
    else:
        results[probe.name] = True


async def run_probes(probes: list[ReadinessProbe]) -> dict[str, bool]:
    """Run every probe concurrently; name -> passed."""
    results: dict[str, bool] = {}
    async with anyio.create_task_group() as group:
        for probe in probes:
            group.start_soon(_run_one, probe, results)
    return {probe.name: results[probe.name] for probe in probes}
