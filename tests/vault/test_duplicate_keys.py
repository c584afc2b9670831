"""The vault's lean routes parse their bodies with core.strict_json: a body naming a key twice is
refused with 400, nothing stored (issue 12 item 10)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.audit.writer import close_audit_writer
from tests.vault.conftest import CHECKOUT
from vault.models import VaultToken

DUPLICATE = "https://rampart.dev/problems/duplicate-json-key"
HEADERS = {"Authorization": CHECKOUT, "Content-Type": "application/json"}


@pytest.fixture(autouse=True)
def _fresh_writer() -> Iterator[None]:
    close_audit_writer()
    yield
    close_audit_writer()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/vault/pan/tokens", b'{"value": "4111111111111111", "value": "4242424242424242"}'),
        (
            "/v1/vault/pan/tokens/batch",
            b'{"items": [{"value": "4111111111111111", "value": "4242424242424242"}]}',
        ),
        ("/v1/vault/pan/detokenize", b'{"token": "tok_pan_a", "token": "tok_pan_b"}'),
    ],
    ids=["top-level", "nested", "detokenize"],
)
def test_lean_routes_refuse_duplicate_keys(
    api: TestClient, sessions: sessionmaker[Session], path: str, body: bytes
) -> None:
    answer = api.post(path, content=body, headers=HEADERS)
    assert answer.status_code == 400, answer.text
    assert answer.json()["type"] == DUPLICATE
    assert "4111111111111111" not in answer.text and "4242424242424242" not in answer.text
    with sessions() as session:
        assert session.execute(select(func.count()).select_from(VaultToken)).scalar_one() == 0
