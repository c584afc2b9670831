"""Fixtures for the authorization tests: the real app with the real guard (IdP verifier + policy
enforcer), real clients, and real access tokens from the token endpoint (client credentials)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import authz
from core.audit.models import AuditEntry
from core.database import unit_of_work
from core.kms.provider import get_key_provider, reset_key_provider
from core.settings import Settings
from iam.keys.service import clear_signing_key_cache
from iam.oauth2.schemas import ClientSpec
from iam.oauth2.service import apply_client
from iam.sessions.secret_keys import forget_cached_keys
from policies import service
from policies.runtime import runtime
from server.registry import import_all_models

import_all_models()  # the PostgreSQL fixture empties every table the metadata knows


@dataclass(frozen=True)
class ServiceClient:
    client_id: str
    secret: str


@pytest.fixture
def authz_settings(settings: Settings) -> Iterator[Settings]:
    """A migrated database with KMS keys; the process's policy and guard forgotten around it."""
    runtime.forget()
    authz.reset()
    reset_key_provider()
    forget_cached_keys()
    clear_signing_key_cache()
    get_key_provider().ensure_keys()
    yield settings
    runtime.forget()
    authz.reset()
    reset_key_provider()
    forget_cached_keys()
    clear_signing_key_cache()


@pytest.fixture
def api(authz_settings: Settings) -> Iterator[TestClient]:
    """The full app, its lifespan started (so the real guard is configured and policy loaded)."""
    from server.app import create_app

    with TestClient(
        create_app(authz_settings), base_url=authz_settings.issuer, raise_server_exceptions=False
    ) as client:
        yield client


def make_service_client(client_id: str) -> ServiceClient:
    with unit_of_work() as db:
        applied = apply_client(
            db,
            ClientSpec(name=client_id, client_id=client_id, grant_types=["client_credentials"]),
        )
        secret = applied.client_secret
    assert secret is not None
    return ServiceClient(client_id, secret)


def token_for(http: TestClient, client: ServiceClient) -> str:
    """A real RFC 9068 access token from the token endpoint (client credentials)."""
    response = http.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, client.secret),
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def add_policy_lines(*lines: str, reason: str = "test set-up") -> int:
    """Append lines to the stored policy (a new version); returns the version."""
    with unit_of_work() as db:
        current = service.snapshot(db).lines
        change = service.apply_policy(db, [*current, *lines], actor="test", reason=reason)
        assert change is not None
        return change.version


def audit_entries(db: Session, event_type: str) -> list[AuditEntry]:
    return list(
        db.execute(
            select(AuditEntry).where(AuditEntry.event_type == event_type).order_by(AuditEntry.seq)
        ).scalars()
    )


@pytest.fixture
def bearer(api: TestClient) -> Callable[..., dict[str, str]]:
    """``bearer("checkout", "g, client:checkout, role:service, rampart")``: a client with those
    policy lines added, and the Authorization header of a fresh token of it."""

    def build(client_id: str, *lines: str) -> dict[str, str]:
        client = make_service_client(client_id)
        if lines:
            add_policy_lines(*lines)
        return {"Authorization": f"Bearer {token_for(api, client)}"}

    return build
