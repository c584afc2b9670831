"""Erasure proven on the database bytes: after the built-in connectors erase a customer (account,
session, grant, PII tokens and a card), neither the SQLite file (WAL checkpointed) nor a
``COPY ... TO STDOUT`` of every PostgreSQL table holds the e-mail, name, address or card number,
and no remaining ciphertext of the subject decrypts: its keys are destroyed, and no live key
opens it."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from compliance.gdpr.connectors import registry
from core.database import unit_of_work
from core.kms.exceptions import DataKeyDestroyed
from core.kms.models import DataKey
from core.kms.service import load_data_key
from tests.compliance.gdpr.connectors.conftest import (
    ADDRESS,
    EMAIL,
    NAME,
    PAN,
    Customer,
    request_for,
)
from vault.crypto import associated_data
from vault.models import VaultToken

PLAINTEXTS = (EMAIL, NAME, ADDRESS, PAN, "ada.lovelace", "Lovelace")


def _erase(sessions: sessionmaker[Session], subject: str) -> None:
    for connector in registry.builtin_connectors():
        with unit_of_work(sessions) as session:
            outcome = connector.fulfil(session, request_for(subject, "erasure"))
        # A system holding nothing of the subject (no consent decided) answers not_applicable.
        assert outcome.status in ("done", "not_applicable"), (connector.name, outcome.detail)


def _database_bytes(engine: Engine) -> bytes:
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        assert database is not None
        engine.dispose()
        with sqlite3.connect(database) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.close()
        found = b""
        for suffix in ("", "-wal", "-journal"):
            path = Path(database + suffix)
            if path.exists():
                found += path.read_bytes()
        return found
    raw = engine.raw_connection()
    try:
        cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        )
        tables = [row[0] for row in cursor.fetchall()]
        dump = io.BytesIO()
        for table in tables:
            with cursor.copy(f'COPY "{table}" TO STDOUT') as copy:
                for chunk in copy:
                    dump.write(bytes(chunk))
        return dump.getvalue()
    finally:
        raw.close()


def test_erasure_leaves_no_plaintext_and_no_decryptable_ciphertext(
    sessions: sessionmaker[Session], engine: Engine, customer: Customer
) -> None:
    before = _database_bytes(engine)
    assert EMAIL.encode() in before  # the bytes read do show the data while it is there
    _erase(sessions, customer.subject)

    with unit_of_work(sessions) as session:
        rows = session.execute(
            select(
                VaultToken.data_key_id,
                VaultToken.ciphertext,
                VaultToken.tenant,
                VaultToken.token_type,
                VaultToken.token,
            ).where(VaultToken.subject == customer.subject)
        ).all()
        assert rows, "the token rows stay (answering 410), only their keys go"
        for key_id, *_ in rows:
            with pytest.raises(DataKeyDestroyed):
                load_data_key(session, key_id)
        live_keys = [
            load_data_key(session, key_id)
            for key_id in session.execute(
                select(DataKey.id).where(DataKey.destroyed_at.is_(None))
            ).scalars()
        ]
    for _, blob, tenant, token_type, token in rows:
        aad = associated_data(tenant, token_type, token)
        for key in live_keys:
            with pytest.raises(InvalidTag):
                AESGCM(key).decrypt(blob[1:13], blob[13:], aad)

    after = _database_bytes(engine)
    for plaintext in PLAINTEXTS:
        for encoding in ("utf-8", "utf-16-le"):
            assert plaintext.encode(encoding) not in after, f"{plaintext[:3]}... remains"
