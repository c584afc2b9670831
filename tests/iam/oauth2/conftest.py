"""Fixtures of the OAuth tests: the real app (TestClient), a database session, a user, clients."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from core.database import get_sessionmaker
from core.kms.provider import get_key_provider, reset_key_provider
from core.settings import Settings
from iam.keys.service import clear_signing_key_cache
from iam.sessions.secret_keys import forget_cached_keys
from tests.iam.oauth2.support import make_user


@pytest.fixture
def oauth_settings(settings: Settings) -> Iterator[Settings]:
    reset_key_provider()
    forget_cached_keys()
    clear_signing_key_cache()
    get_key_provider().ensure_keys()
    yield settings
    reset_key_provider()
    forget_cached_keys()
    clear_signing_key_cache()


@pytest.fixture
def db(oauth_settings: Settings) -> Iterator[Session]:
    session = get_sessionmaker()()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


@pytest.fixture
def http(oauth_settings: Settings) -> Iterator[TestClient]:
    from server.app import create_app

    with TestClient(
        create_app(oauth_settings), base_url=oauth_settings.issuer, follow_redirects=False
    ) as client:
        yield client


@pytest.fixture
def user_email(db: Session) -> str:
    return make_user(db).email
