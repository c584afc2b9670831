"""Known test card numbers tokenized over the API appear nowhere in clear: not in the SQLite file
(and its WAL), not in a pg_dump of PostgreSQL, not in the logs, not in the audit ledger.
And crypto-shredding, proven on the SQLite file's bytes: after erasure the subject's wrapped
key is gone from the file, so the ciphertexts left in it can no longer be opened."""

from __future__ import annotations

import json
import logging
import re
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import make_url, select
from sqlalchemy.orm import Session, sessionmaker

from core.audit.models import AuditEntry
from core.database import reset_engine_cache
from core.kms.models import DataKey
from core.settings import Settings
from tests.vault.conftest import CHECKOUT, CRM
from vault.models import VaultToken

TEST_PANS = [
    "4111111111111111",
    "5555555555554444",
    "378282246310005",
    "6011111111111117",
    "4000056655665556",
    "3530111333300000",
]


def _forms(pan: str) -> list[bytes]:
    """Digits, grouped by spaces and by dashes (4-4-4-4, or 4-6-5 for 15 digits)."""
    groups = [pan[:4], pan[4:10], pan[10:]] if len(pan) == 15 else re.findall(".{1,4}", pan)
    return [pan.encode(), " ".join(groups).encode(), "-".join(groups).encode()]


def _occurrences(blob: bytes) -> list[str]:
    return [pan[-4:] for pan in TEST_PANS for form in _forms(pan) if form in blob]


def _database_bytes(settings: Settings) -> bytes:
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite":
        path = Path(str(url.database))
        wal = path.with_name(path.name + "-wal")
        return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    dump = subprocess.run(
        [
            "pg_dump",
            "--host",
            str(url.host),
            "--port",
            str(url.port or 5432),
            "--username",
            str(url.username),
            "--no-owner",
            str(url.database),
        ],
        capture_output=True,
        check=True,
    )
    assert b"vault_tokens" in dump.stdout
    return dump.stdout


def test_card_numbers_never_stored_logged_or_audited(
    api: TestClient,
    local_kms: Settings,
    sessions: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    headers = {"Authorization": CHECKOUT}
    single = api.post("/v1/vault/pan/tokens", json={"value": TEST_PANS[0]}, headers=headers)
    batch = api.post(
        "/v1/vault/pan/tokens/batch",
        json={"items": [{"value": " ".join(re.findall(".{1,4}", p))} for p in TEST_PANS[1:]]},
        headers=headers,
    )
    tokens = [single.json()["token"]] + [i["result"]["token"] for i in batch.json()["items"]]
    assert len(tokens) == len(TEST_PANS)
    values = api.post(
        "/v1/vault/pan/detokenize/batch",
        json={"tokens": tokens, "purpose": "payment.capture"},
        headers=headers,
    )
    assert [i["result"]["value"] for i in values.json()["items"]] == TEST_PANS
    api.post("/v1/vault/pan/reveal/batch", json={"tokens": tokens}, headers=headers)
    # A rejected value must not leak through the error path either.
    api.post("/v1/vault/pan/tokens", json={"value": TEST_PANS[0] + "0"}, headers=headers)
    api.post("/v1/vault/pan/tokens", json={"value": TEST_PANS[1], "ttl": 1}, headers=headers)

    stored = _database_bytes(local_kms)
    assert tokens[0].encode() in stored  # control: the search reads where the rows are
    assert _occurrences(stored) == []

    captured = capfd.readouterr()
    logs = (caplog.text + captured.out + captured.err).encode()
    assert b"/v1/vault/pan" in logs  # control: the request log lines were captured
    assert _occurrences(logs) == []

    with sessions() as session:
        entries = session.execute(select(AuditEntry)).scalars().all()
    audit_text = json.dumps(
        [[e.actor, e.event_type, e.resource, e.details, e.outcome] for e in entries]
    ).encode()
    assert b"vault.detokenized" in audit_text
    assert _occurrences(audit_text) == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_crypto_shredding_on_the_database_file(
    api: TestClient, local_kms: Settings, sessions: sessionmaker[Session]
) -> None:
    headers = {"Authorization": CRM}
    mine = [
        api.post(
            f"/v1/vault/{kind}/tokens", json={"value": value, "subject": "cus_7"}, headers=headers
        ).json()
        for kind, value in (("email", "grace@example.com"), ("name", "Grace Hopper"))
    ]
    other = api.post(
        "/v1/vault/email/tokens",
        json={"value": "alan@example.com", "subject": "cus_8"},
        headers=headers,
    ).json()
    with sessions() as session:
        key_id = session.execute(
            select(VaultToken.data_key_id).where(VaultToken.subject == "cus_7").limit(1)
        ).scalar_one()
        wrapped = session.get(DataKey, key_id).wrapped  # type: ignore[union-attr]
        ciphertexts = (
            session.execute(select(VaultToken.ciphertext).where(VaultToken.subject == "cus_7"))
            .scalars()
            .all()
        )
    assert wrapped is not None and len(ciphertexts) == 2
    db_path = Path(str(make_url(local_kms.resolved_database_url).database))

    reset_engine_cache()  # last connection closed: SQLite checkpoints the WAL into the file
    before = db_path.read_bytes()
    assert wrapped in before and all(c in before for c in ciphertexts)

    erased = api.post("/v1/vault/subjects/erase", json={"subject": "cus_7"}, headers=headers)
    assert erased.json()["keys_destroyed"] == 1
    reset_engine_cache()
    after = db_path.read_bytes()
    wal = db_path.with_name(db_path.name + "-wal")
    after_all = after + (wal.read_bytes() if wal.exists() else b"")
    assert wrapped not in after_all  # the only copy of the subject's key is gone from the file
    assert all(c in after_all for c in ciphertexts)  # the ciphertexts remain, now unreadable

    for item, kind in zip(mine, ("email", "name"), strict=True):
        answer = api.post(
            f"/v1/vault/{kind}/detokenize",
            json={"token": item["token"], "purpose": "gdpr.check"},
            headers=headers,
        )
        assert answer.status_code == 410
    still = api.post(
        "/v1/vault/email/detokenize",
        json={"token": other["token"], "purpose": "gdpr.check"},
        headers=headers,
    )
    assert still.json()["value"] == "alan@example.com"
