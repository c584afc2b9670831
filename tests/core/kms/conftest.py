"""KMS test helpers: the local provider or real OpenBao behind the data-key registry, on the
per-test database, with a unique Transit key pair per test so rotations never collide."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.kms.keyfile import create_local_key_file
from core.kms.models import DataKey
from core.kms.provider import reset_key_provider
from core.kms.service import ensure_kms_keys
from core.settings import Settings, get_settings
from tests.fixtures.openbao import OpenBaoServer

DOCS_KMS = Path(__file__).resolve().parents[3] / "docs" / "kms.md"


def use_vault(
    monkeypatch: pytest.MonkeyPatch, server: OpenBaoServer, **extra: str
) -> tuple[str, str]:
    """Point the settings at ``server`` with fresh key names; returns (kek name, signing name)."""
    suffix = secrets.token_hex(4)
    kek, signing = f"kek-{suffix}", f"sign-{suffix}"
    monkeypatch.setenv("RAMPART_KMS", "vault")
    monkeypatch.setenv("RAMPART_VAULT_ADDR", server.addr)
    monkeypatch.setenv("RAMPART_VAULT_TRANSIT_KEY", kek)
    monkeypatch.setenv("RAMPART_VAULT_SIGNING_KEY", signing)
    monkeypatch.setenv("RAMPART_VAULT_TIMEOUT", "3")
    if "RAMPART_VAULT_ROLE_ID" not in extra:
        monkeypatch.setenv("RAMPART_VAULT_TOKEN", server.token)
    for name, value in extra.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    reset_key_provider()
    return kek, signing


def documented_policy(kek: str, signing: str) -> str:
    """The HCL policy from docs/kms.md with this test's key names."""
    match = re.search(r"```hcl\n(.*?)```", DOCS_KMS.read_text(), re.DOTALL)
    assert match, "docs/kms.md lost its HCL policy block"
    return match.group(1).replace("rampart-kek", kek).replace("rampart-signing", signing)


@pytest.fixture(autouse=True)
def _forget_kms_state() -> Iterator[None]:
    """No provider, cached key or settings built for one test leaks into the next."""
    yield
    get_settings.cache_clear()
    reset_key_provider()


@pytest.fixture(params=["local", "vault"])
def kms(
    request: pytest.FixtureRequest, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """Each registry test runs with the local key file and with real OpenBao."""
    if request.param == "local":
        create_local_key_file(settings.resolved_local_key_file)
        reset_key_provider()
    else:
        use_vault(monkeypatch, request.getfixturevalue("openbao"))
        ensure_kms_keys()
    yield request.param
    reset_key_provider()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


def count_data_keys(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.execute(select(func.count()).select_from(DataKey)).scalar_one())
