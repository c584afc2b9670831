"""/healthz, /readyz (database, KMS, Redis) and /metrics, against real services."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings, get_settings
from server.app import create_app
from tests.core.kms.conftest import use_vault
from tests.fixtures.openbao import OpenBaoServer
from tests.server.conftest import prepare

CLOSED_PORT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:1/x"
CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"


def test_healthz_answers_ok(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_with_database_and_kms(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "kms": "ok"}}


def _rebuilt_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return get_settings()


def test_readyz_names_the_database_when_it_is_unreachable(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepare(settings)  # keys exist: only the database is down
    broken = _rebuilt_settings(monkeypatch, RAMPART_DATABASE_URL=CLOSED_PORT_POSTGRES)
    with TestClient(create_app(broken), raise_server_exceptions=False) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "https://rampart.dev/problems/not-ready"
    assert body["failed"] == ["database"]
    assert body["checks"] == {"database": "fail", "kms": "ok"}
    assert "database" in body["detail"]


def test_readyz_does_not_create_a_missing_sqlite_file(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepare(settings)
    missing = settings.data_dir / "absent.db"
    broken = _rebuilt_settings(monkeypatch, RAMPART_DATABASE_URL=f"sqlite:///{missing}")
    with TestClient(create_app(broken), raise_server_exceptions=False) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["database"]
    assert not missing.exists()


def test_readyz_names_the_kms_when_its_key_file_is_missing(settings: Settings) -> None:
    # No prepare(): the database is migrated by the fixture, the local key file never created.
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["kms"]


def test_readyz_checks_redis_when_configured(
    settings: Settings, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepare(settings)
    with_redis = _rebuilt_settings(monkeypatch, RAMPART_REDIS_URL=redis_url)
    with TestClient(create_app(with_redis)) as client:
        response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "kms": "ok", "redis": "ok"}


def test_readyz_names_redis_when_it_is_unreachable(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepare(settings)
    broken = _rebuilt_settings(monkeypatch, RAMPART_REDIS_URL=CLOSED_PORT_REDIS)
    with TestClient(create_app(broken), raise_server_exceptions=False) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["redis"]
    assert body["checks"]["redis"] == "fail"


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    client.get("/healthz")
    client.get("/no/such/path/4111111111111111")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'rampart_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'route="<unmatched>",status="404"' in text
    assert "rampart_http_request_duration_seconds_bucket" in text
    # Raw paths never become labels (bounded cardinality, nothing secret in metrics).
    assert "4111111111111111" not in text
    assert "/no/such/path" not in text


def test_readyz_turns_503_naming_the_kms_when_openbao_stops(
    settings: Settings,
    openbao_disposable: OpenBaoServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_vault(monkeypatch, openbao_disposable)
    vault_settings = get_settings()
    prepare(vault_settings)
    with TestClient(create_app(vault_settings), raise_server_exceptions=False) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["kms"] == "ok"

        openbao_disposable.stop()

        down = client.get("/readyz")
    assert down.status_code == 503
    assert down.headers["content-type"].startswith("application/problem+json")
    assert down.json()["failed"] == ["kms"]
    assert down.json()["checks"] == {"database": "ok", "kms": "fail"}
    assert openbao_disposable.token not in down.text
