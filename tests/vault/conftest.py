"""Vault test helpers: the local KMS on the per-test database, sessions, and a TEST-ONLY
authorization set-up (a bearer -> Principal table and an allow-table) standing in for the IdP's
verifier and the Casbin enforcer, which the composition plugs in for real."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core import authz
from core.authz import AccessRequest, Decision, Principal
from core.kms.keyfile import create_local_key_file
from core.kms.provider import reset_key_provider
from core.settings import Settings, get_settings
from vault.keys import forget_cached_scopes

TEST_TENANT = "shop-test"
CHECKOUT = "Bearer test-checkout"  # tokenize + detokenize cards and CVCs
CRM = "Bearer test-crm"  # personal data, reveal only for cards
READER = "Bearer test-reader"  # metadata only


@pytest.fixture(autouse=True)
def _forget_vault_state() -> Iterator[None]:
    yield
    get_settings.cache_clear()
    reset_key_provider()
    forget_cached_scopes()
    authz.reset()


@pytest.fixture
def local_kms(settings: Settings) -> Settings:
    """The embedded key file under the test's data directory."""
    create_local_key_file(settings.resolved_local_key_file)
    reset_key_provider()
    forget_cached_scopes()
    return settings


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


@dataclass
class AllowTable:
    """TEST FIXTURE: who may do what, as (subject, object, action); '*' object matches all."""

    principals: dict[str, Principal] = field(default_factory=dict)
    allowed: set[tuple[str, str, str]] = field(default_factory=set)
    decisions: list[tuple[str, str, str, bool]] = field(default_factory=list)

    def authenticate(self, request: Request) -> Principal | None:
        return self.principals.get(request.headers.get("authorization", ""))

    def decide(self, access: AccessRequest) -> Decision:
        subject = access.principal.subject
        allowed = (subject, access.obj, access.act) in self.allowed or (
            subject,
            "*",
            access.act,
        ) in self.allowed
        self.decisions.append((subject, access.obj, access.act, allowed))
        return Decision(allowed=allowed, policy_version=1, rule="test-allow-table")


def _service(name: str) -> Principal:
    return Principal(subject=name, kind="service", client_id=name, tenant=TEST_TENANT)


@pytest.fixture
def allow_table() -> AllowTable:
    table = AllowTable(
        principals={
            CHECKOUT: _service("svc-checkout"),
            CRM: _service("svc-crm"),
            READER: _service("svc-reader"),
        }
    )
    personal = ("email", "phone", "iban", "national_id", "name", "address", "string")
    for act in ("tokenize", "detokenize", "reveal", "metadata", "delete"):
        for kind in ("pan", "cvc", "sad"):
            table.allowed.add(("svc-checkout", f"vault:{kind}", act))
        for kind in personal:
            table.allowed.add(("svc-crm", f"vault:{kind}", act))
    table.allowed.add(("svc-crm", "vault:pan", "reveal"))  # masked only, never the number
    table.allowed.add(("svc-crm", "vault:subject", "erase"))
    table.allowed.add(("svc-reader", "vault:pan", "metadata"))
    table.allowed.add(("svc-checkout", "vault", "stats"))
    authz.configure(table.authenticate, table.decide)
    return table


@pytest.fixture
def client_factory(
    local_kms: Settings, allow_table: AllowTable
) -> Iterator[Callable[[], TestClient]]:
    from server.app import create_app

    clients: list[TestClient] = []

    def build() -> TestClient:
        client = TestClient(create_app(local_kms), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def api(client_factory: Callable[[], TestClient]) -> TestClient:
    return client_factory()
