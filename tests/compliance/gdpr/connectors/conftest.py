"""The built-in connectors' fixtures: the local KMS on the test's database, sessions, and a
customer with an account, a login session, PII tokens and a card in the vault."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from compliance.gdpr.connectors.base import ConnectorRequest, RequestType, SubjectRef
from core.database import unit_of_work
from core.kms.keyfile import create_local_key_file
from core.kms.provider import reset_key_provider
from core.settings import Settings
from vault.keys import forget_cached_scopes

TENANTS = ("shop-a", "shop-b")
EMAIL = "ada.lovelace@example.org"
NAME = "Ada Lovelace"
ADDRESS = "12 Analytical Engine Street, London"
PAN = "4111111111111111"


@pytest.fixture
def sessions(settings: Settings, engine: Engine) -> Iterator[sessionmaker[Session]]:
    create_local_key_file(settings.resolved_local_key_file)
    reset_key_provider()
    forget_cached_scopes()
    yield sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
    forget_cached_scopes()


@dataclass(frozen=True)
class Customer:
    subject: str
    tokens: dict[str, str]  # type -> token


@pytest.fixture
def customer(sessions: sessionmaker[Session]) -> Customer:
    from iam.accounts.service import register_user
    from vault.records import TokenizeRequest, TokenRecord
    from vault.service import tokenize_batch

    tokens: dict[str, str] = {}
    with unit_of_work(sessions) as session:
        user = register_user(session, EMAIL, name=NAME, roles=["customer"])
        subject = str(user.id)
        for tenant, kind, value in (
            ("shop-a", "email", EMAIL),
            ("shop-a", "name", NAME),
            ("shop-a", "address", ADDRESS),
            ("shop-b", "pan", PAN),
        ):
            (record,) = tokenize_batch(
                session,
                tenant=tenant,
                token_type=kind,
                items=[TokenizeRequest(value, subject=subject)],
            )
            assert isinstance(record, TokenRecord)
            tokens[kind] = record.token
        _login_and_grant(session, user.id)
    return Customer(subject, tokens)


def request_for(subject: str, kind: RequestType, **changes: str) -> ConnectorRequest:
    return ConnectorRequest(uuid4(), kind, SubjectRef(subject, EMAIL), changes=changes)


def _login_and_grant(session: Session, user_id: UUID) -> None:
    """A live login session (as the login pages make it) and an OAuth refresh-token family."""
    from core.clock import utcnow
    from iam.oauth2.token_store import start_family
    from iam.sessions.models import LoginSession

    now = utcnow()
    session.add(
        LoginSession(
            token_hash="0" * 64,
            user_id=user_id,
            state="authenticated",
            amr=["pwd"],
            auth_time=now,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=8),
        )
    )
    start_family(
        session,
        client_id="shop-web",
        user_id=user_id,
        scope="openid email",
        auth_time=now,
        amr=["pwd"],
        acr=None,
        sid=None,
        lifetime_seconds=3600,
    )
    session.flush()
