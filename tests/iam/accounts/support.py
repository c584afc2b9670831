"""Fixtures shared by the accounts, MFA, sessions and pages tests: settings with a local key file
(the IdP's keys are KMS data keys), a database session, and user factories."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

import iam.accounts.models
import iam.mfa.models
import iam.sessions.models  # noqa: F401 - every IdP table known to Base.metadata
from core.database import get_sessionmaker
from core.kms.provider import get_key_provider, reset_key_provider
from core.settings import Settings
from iam.accounts.models import User
from iam.accounts.service import create_user
from iam.sessions.secret_keys import forget_cached_keys

PASSWORD = "correct horse 42 battery"
OTHER_PASSWORD = "Tr0ub4dor and 7 more words"


@pytest.fixture
def iam_settings(settings: Settings) -> Iterator[Settings]:
    """The test database's settings with a fresh local key file and no cached keys."""
    reset_key_provider()
    forget_cached_keys()
    get_key_provider().ensure_keys()
    yield settings
    reset_key_provider()
    forget_cached_keys()


@pytest.fixture
def db(iam_settings: Settings) -> Iterator[Session]:
    """A session on the test database; tests commit explicitly where they need to."""
    session = get_sessionmaker()()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def make_user(
    db: Session, email: str = "alice@example.com", *, roles: list[str] | None = None
) -> User:
    user, _ = create_user(db, email, password=PASSWORD, roles=roles or [], name="Alice")
    db.commit()
    return user
