"""Fail closed: OpenBao stopped while batches are being tokenized -> 503 problem+json, and every
batch is either stored whole or not at all (never a half-written batch)."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.kms.service import ensure_kms_keys
from core.settings import get_settings
from server.app import create_app
from tests.core.kms.conftest import use_vault
from tests.fixtures.openbao import OpenBaoServer
from tests.vault.conftest import CRM, AllowTable
from vault.models import VaultToken

BATCH = 50


def _count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.execute(select(func.count()).select_from(VaultToken)).scalar_one())


@pytest.mark.integration
def test_openbao_stopped_during_batches(
    settings: object,
    allow_table: AllowTable,
    openbao_disposable: OpenBaoServer,
    monkeypatch: pytest.MonkeyPatch,
    sessions: sessionmaker[Session],
) -> None:
    use_vault(monkeypatch, openbao_disposable)
    ensure_kms_keys()
    statuses: list[tuple[int, str]] = []
    stop = threading.Event()

    with TestClient(create_app(get_settings()), raise_server_exceptions=False) as api:

        def tokenize_batches() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                # A fresh subject per item: every batch needs new keys wrapped by the KMS.
                items = [
                    {"value": f"user{n}-{i}@example.com", "subject": f"cus_{n}_{i}"}
                    for i in range(BATCH)
                ]
                answer = api.post(
                    "/v1/vault/email/tokens/batch",
                    json={"items": items},
                    headers={"Authorization": CRM},
                )
                statuses.append((answer.status_code, answer.headers["content-type"]))

        worker = threading.Thread(target=tokenize_batches)
        worker.start()
        deadline = time.monotonic() + 30
        while not any(s == 200 for s, _ in statuses) and time.monotonic() < deadline:
            time.sleep(0.05)
        openbao_disposable.stop()
        while sum(s == 503 for s, _ in statuses) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        worker.join(timeout=30)

    ok = sum(1 for s, _ in statuses if s == 200)
    refused = [(s, ct) for s, ct in statuses if s != 200]
    assert ok >= 1 and len(refused) >= 3
    assert all(s == 503 and ct == "application/problem+json" for s, ct in refused), refused
    assert _count(sessions) == ok * BATCH  # whole batches only
