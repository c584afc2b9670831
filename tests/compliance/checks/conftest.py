"""Fixtures for the compliance checks: a CheckContext on the test's real database, against the real
server (uvicorn subprocess) or, for the failing cases of probes, against ``weak_shop``: a small
local HTTP app that behaves the way a badly configured shop would."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from compliance.checks import load_all
from compliance.checks.base import REGISTRY, CheckContext, CheckResult
from core.clock import utcnow
from core.kms.provider import get_key_provider, reset_key_provider
from core.settings import Settings
from iam.keys.service import clear_signing_key_cache
from policies.runtime import runtime
from server.registry import import_all_models
from tests.compliance.checks.weak_shop import build_weak_shop
from tests.fixtures.local_apps import serve_app
from tests.interop.conftest import live_server, live_settings
from vault.keys import forget_cached_scopes

__all__ = ["live_server", "live_settings"]  # fixtures re-used from the interop tests

import_all_models()  # the PostgreSQL fixture empties every table the metadata knows
load_all()

ContextFactory = Callable[..., CheckContext]


def _forget_key_caches() -> None:
    """Keys cached by id outlive the database they came from; each test starts without them."""
    reset_key_provider()
    clear_signing_key_cache()
    forget_cached_scopes()
    runtime.forget()


@pytest.fixture
def keyed_settings(settings: Settings) -> Iterator[Settings]:
    """The test's settings with the local KMS keys created (what ``rampart init`` does)."""
    _forget_key_caches()
    get_key_provider().ensure_keys()
    yield settings
    _forget_key_caches()


def _context_factory(settings: Settings, engine: Engine, base_url: str) -> Iterator[ContextFactory]:
    factory = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
    opened: list[tuple[Session, httpx.Client]] = []

    def build(
        *, url: str | None = None, now: datetime | None = None, **changes: Any
    ) -> CheckContext:
        options = changes.pop("options", {})
        session, http = factory(), httpx.Client(base_url=url or base_url, timeout=10)
        opened.append((session, http))
        return CheckContext(
            settings=settings.model_copy(update=changes) if changes else settings,
            session=session,
            sessions=factory,
            http=http,
            base_url=url or base_url,
            now=now or utcnow(),
            options=options,
        )

    yield build
    for session, http in opened:
        session.rollback()
        session.close()
        http.close()


@pytest.fixture
def read_context(keyed_settings: Settings, engine: Engine) -> Iterator[ContextFactory]:
    """Contexts for read checks (no server); ``read_context(lockout_minutes=5)`` weakens one
    setting as the check sees it."""
    yield from _context_factory(keyed_settings, engine, "http://127.0.0.1:9")


@pytest.fixture
def live_context(
    live_server: str, live_settings: Settings, engine: Engine
) -> Iterator[ContextFactory]:
    """Contexts whose ``http`` talks to the real server; ``url=`` points one at another target."""
    yield from _context_factory(live_settings, engine, live_server)


def run(check_id: str, ctx: CheckContext) -> CheckResult:
    """The check as the engine runs it: its session's transaction ends with the check."""
    try:
        return REGISTRY[check_id].function(ctx)
    finally:
        ctx.session.rollback()


@pytest.fixture(scope="session")
def weak_shop() -> Iterator[str]:
    """The weak stand-in shop on a free port, for the whole session (it keeps no state that
    matters between tests)."""
    with serve_app(build_weak_shop()) as url:
        yield url
