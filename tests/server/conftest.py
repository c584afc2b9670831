"""An application built by the real factory on the test's settings (SQLite and PostgreSQL), with
its database migrated and its local key file created, so /readyz can answer ready."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.bootstrap import initialize
from core.database import reset_engine_cache
from core.kms.provider import reset_key_provider
from core.logging import configure_logging
from core.settings import Settings, get_settings
from server.app import create_app


@pytest.fixture(autouse=True)
def fresh_key_provider() -> Iterator[None]:
    """The KMS provider is cached per process from the settings of its first use; each test
    has its own data directory, so its own provider."""
    reset_key_provider()
    yield
    reset_key_provider()


def prepare(settings: Settings) -> None:
    """What `rampart init` does: schema and keys."""
    reset_key_provider()
    initialize(settings)


@pytest.fixture
def http_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """For behaviour that involves no database (headers, request ids, problem bodies): the
    embedded default in a fresh data directory, once instead of once per backend."""
    monkeypatch.setenv("RAMPART_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAMPART_ENV", "test")
    monkeypatch.setenv("RAMPART_SCHEDULER", "off")  # no job runtime on this unmigrated database
    for name in ("RAMPART_DATABASE_URL", "RAMPART_REDIS_URL", "RAMPART_KMS"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    reset_engine_cache()
    yield get_settings()
    get_settings.cache_clear()
    reset_engine_cache()


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    prepare(settings)
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # raise_server_exceptions=False: a 500 must be answered as the client would see it.
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def capture_logs(settings: Settings) -> io.StringIO:
    """Send Rampart's log lines to a buffer from now on (configure_logging is idempotent)."""
    buffer = io.StringIO()
    configure_logging(settings, stream=buffer)
    return buffer


def log_events(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
