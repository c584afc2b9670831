"""Audit test helpers: a real Ed25519 signer, sessions on the per-test database, and tampering
the way an attacker with database superuser (or file) access would."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.audit.models import AuditCheckpoint, AuditEntry
from core.audit.service import record_event
from core.database import unit_of_work


class Ed25519Signer:
    """Satisfies core.audit.signing.Signer with an in-memory key."""

    def __init__(self) -> None:
        self._key = Ed25519PrivateKey.generate()

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def public_signing_key(self) -> bytes:
        return self._key.public_key().public_bytes_raw()


@pytest.fixture
def signer() -> Ed25519Signer:
    return Ed25519Signer()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


def append_events(sessions: sessionmaker[Session], count: int, **fields: Any) -> None:
    with unit_of_work(sessions) as session:
        for index in range(count):
            record_event(
                session,
                event_type=fields.get("event_type", "test.event"),
                resource=fields.get("resource", f"order:{index}"),
                details=fields.get("details", {"index": index, "note": "größe ✓"}),
                actor=fields.get("actor", "user:alice"),
                origin=fields.get("origin", "203.0.113.7"),
            )


def tamper(engine: Engine, sql: str, **params: Any) -> None:
    """Run ``sql`` past the append-only triggers, as a database superuser could."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            for table in ("audit_entries", "audit_checkpoints"):
                for operation in ("update", "delete"):
                    connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_{operation}")
        connection.execute(text(sql), params)


def count_rows(sessions: sessionmaker[Session], model: type[AuditEntry | AuditCheckpoint]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)
