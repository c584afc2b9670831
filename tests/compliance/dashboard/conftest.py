"""The real app with the dashboard fixture library, its seeded evidence, and logged-in browsers
(TestClient with the login session's cookie) per role."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from core.kms.provider import get_key_provider
from core.settings import Settings, get_settings
from iam.accounts.models import User
from tests.compliance.dashboard.seed import LIBRARY, seed
from tests.iam.accounts.support import PASSWORD, db, iam_settings, make_user
from tests.iam.pages.support import login

__all__ = ["db", "iam_settings"]  # fixtures used by name

Browser = Callable[..., TestClient]


@pytest.fixture(autouse=True)
def dashboard_library(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("RAMPART_COMPLIANCE_LIBRARY", str(LIBRARY))
    get_settings.cache_clear()  # settings are read once per process
    yield
    get_settings.cache_clear()


@pytest.fixture
def app_client(iam_settings: Settings) -> Iterator[TestClient]:
    from server.app import create_app

    with TestClient(create_app(iam_settings)) as client:
        yield client


@pytest.fixture
def seeded(db: Session, iam_settings: Settings) -> None:
    seed(db, get_key_provider())
    db.commit()


@pytest.fixture
def browser(app_client: TestClient, db: Session) -> Browser:
    """``browser("auditor")``: the client logged in as a new user with that role (one browser
    per test: the cookie jar is the client's)."""
    made: dict[str, User] = {}

    def as_role(role: str | None, email: str | None = None) -> TestClient:
        address = email or f"{role or 'nobody'}@example.com"
        if address not in made:
            made[address] = make_user(db, address, roles=[role] if role else [])
        app_client.cookies.clear()
        login(app_client, address, PASSWORD, next_url="/dashboard")
        return app_client

    as_role.users = made  # type: ignore[attr-defined]
    return as_role
