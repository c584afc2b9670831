"""record_event: linked entries with the PCI DSS 10.2.2 fields, in the caller's transaction;
secrets refused with nothing written; the database itself refuses updates and deletes."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from core import context
from core.audit.canonical import GENESIS_HASH
from core.audit.models import AuditEntry
from core.audit.service import record_event
from core.audit.verification import verify
from core.database import unit_of_work
from core.errors import SecretRefused, ValidationFailed
from tests.core.audit.conftest import append_events, count_rows

CARD = "4111 1111 1111 1111"


def test_entries_carry_the_pci_fields_and_link_by_hash(sessions: sessionmaker[Session]) -> None:
    token = context.set_current(
        context.ActingContext(actor="user:bob", origin="198.51.100.4", request_id="req_abc")
    )
    try:
        with unit_of_work(sessions) as session:
            first = record_event(session, event_type="user.login", resource="user:bob")
            second = record_event(
                session,
                event_type="policy.change",
                outcome="denied",
                resource="policy:p1",
                details={"b": [1, 2], "a": {"z": None, "y": "ü"}},
                actor="client:checkout",
            )
    finally:
        context.reset(token)

    with sessions() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    assert [e.seq for e in entries] == [1, 2]
    assert (first.seq, second.seq) == (1, 2)
    assert entries[0].prev_hash == GENESIS_HASH
    assert entries[1].prev_hash == entries[0].hash
    assert (entries[0].actor, entries[0].origin, entries[0].request_id) == (
        "user:bob",
        "198.51.100.4",
        "req_abc",
    )
    assert entries[1].actor == "client:checkout"
    assert entries[1].outcome == "denied"
    assert entries[1].details == '{"a":{"y":"ü","z":null},"b":[1,2]}'
    assert entries[0].occurred_at.tzinfo is not None
    assert entries[0].occurred_at <= entries[1].occurred_at


def test_an_auditor_recomputes_hashes_with_the_standard_library(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """The recipe in docs/audit.md: stdlib json + hashlib over the stored columns."""
    append_events(sessions, 3, details={"amount": 1999, "items": ["a", "é"], "ok": True})
    query = (
        "SELECT seq, occurred_at, actor, event_type, outcome, origin, resource, request_id, "
        "details, prev_hash, hash FROM audit_entries ORDER BY seq"
    )
    with engine.connect() as connection:
        rows = connection.execute(text(query)).all()
    previous = GENESIS_HASH
    for row in rows:
        occurred_at = row.occurred_at
        if isinstance(occurred_at, str):  # SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC)
            occurred_at = occurred_at.replace(" ", "T") + "Z"
        else:
            occurred_at = occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        envelope = {
            "actor": row.actor,
            "details": json.loads(row.details),
            "event_type": row.event_type,
            "occurred_at": occurred_at,
            "origin": row.origin,
            "outcome": row.outcome,
            "prev_hash": row.prev_hash,
            "request_id": row.request_id,
            "resource": row.resource,
            "seq": row.seq,
        }
        canonical = json.dumps(envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert hashlib.sha256(canonical.encode()).hexdigest() == row.hash
        assert row.prev_hash == previous
        previous = row.hash
    assert len(rows) == 3


def test_record_event_flushes_and_leaves_the_commit_to_the_caller(
    sessions: sessionmaker[Session],
) -> None:
    session = sessions()
    try:
        entry = record_event(session, event_type="test.event")
        assert entry.seq == 1
        session.rollback()
    finally:
        session.close()
    assert count_rows(sessions, AuditEntry) == 0
    append_events(sessions, 1)
    with sessions() as session:
        assert session.scalars(select(AuditEntry.seq)).all() == [1]


SECRET_DETAILS: list[Any] = [
    pytest.param({"note": f"paid with {CARD}"}, "$.note", id="grouped-card-in-text"),
    pytest.param({"pan_digits": 4111111111111111}, "$.pan_digits", id="card-as-int"),
    pytest.param(
        {"items": [{"ref": "ok"}, {"ref": "5500-0000-0000-0004"}]},
        "$.items[1].ref",
        id="card-nested-in-list",
    ),
    pytest.param({"password": "hunter2"}, "$.password", id="password-field"),
    pytest.param({"client": {"api_key": "abc"}}, "$.client.api_key", id="api-key-field"),
    pytest.param({"refresh_token": "xyz"}, "$.refresh_token", id="token-field"),
]


@pytest.mark.parametrize(("details", "path"), SECRET_DETAILS)
def test_secrets_in_details_are_refused_and_nothing_is_written(
    sessions: sessionmaker[Session], details: dict[str, Any], path: str
) -> None:
    with pytest.raises(SecretRefused) as refused, unit_of_work(sessions) as session:
        record_event(session, event_type="payment.capture", details=details)
    assert path in refused.value.detail
    assert path in refused.value.extensions["paths"]
    for secret in ("4111", "5500", "hunter2", "abc", "xyz"):
        assert secret not in refused.value.detail
    assert refused.value.status == 422
    assert count_rows(sessions, AuditEntry) == 0


def test_a_card_number_used_as_a_key_is_refused_without_echoing_it(
    sessions: sessionmaker[Session],
) -> None:
    with pytest.raises(SecretRefused) as refused, unit_of_work(sessions) as session:
        record_event(session, event_type="test.event", details={CARD: "x"})
    assert "1111" not in refused.value.detail
    assert "[REDACTED]" in refused.value.detail
    assert count_rows(sessions, AuditEntry) == 0


@pytest.mark.parametrize("field", ["event_type", "resource"])
def test_card_numbers_in_event_type_or_resource_are_refused(
    sessions: sessionmaker[Session], field: str
) -> None:
    fields: dict[str, Any] = {"event_type": "test.event", "resource": "card", field: f"x {CARD}"}
    with pytest.raises(SecretRefused) as refused, unit_of_work(sessions) as session:
        record_event(session, **fields)
    assert refused.value.detail.endswith(field)
    assert count_rows(sessions, AuditEntry) == 0


def test_a_refused_event_leaves_the_chain_usable(sessions: sessionmaker[Session]) -> None:
    with unit_of_work(sessions) as session:
        with pytest.raises(SecretRefused):
            record_event(session, event_type="test.event", details={"secret": "s"})
        record_event(session, event_type="test.event", details={"fine": True})
    with sessions() as session:
        assert session.scalars(select(AuditEntry.seq)).all() == [1]


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"outcome": "maybe"}, id="unknown-outcome"),
        pytest.param({"event_type": ""}, id="empty-event-type"),
        pytest.param({"resource": "r" * 501}, id="resource-too-long"),
        pytest.param({"details": {"when": object()}}, id="details-not-json"),
    ],
)
def test_invalid_events_are_rejected(
    sessions: sessionmaker[Session], fields: dict[str, Any]
) -> None:
    arguments: dict[str, Any] = {"event_type": "test.event", **fields}
    with pytest.raises(ValidationFailed), unit_of_work(sessions) as session:
        record_event(session, **arguments)
    assert count_rows(sessions, AuditEntry) == 0


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_entries SET actor = 'mallory' WHERE seq = 1", "DELETE FROM audit_entries"],
)
def test_the_database_refuses_updates_and_deletes(
    engine: Engine, sessions: sessionmaker[Session], statement: str
) -> None:
    append_events(sessions, 2)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text(statement))
    with sessions() as session:
        assert session.scalars(select(AuditEntry.actor)).all() == ["user:alice", "user:alice"]


def test_a_rolled_back_savepoint_leaves_no_gap(sessions: sessionmaker[Session]) -> None:
    with unit_of_work(sessions) as session:
        record_event(session, event_type="test.outer")
        savepoint = session.begin_nested()
        record_event(session, event_type="test.discarded")
        savepoint.rollback()
        record_event(session, event_type="test.after")
    with sessions() as session:
        rows = session.execute(select(AuditEntry.seq, AuditEntry.event_type)).all()
    assert [tuple(r) for r in rows] == [(1, "test.outer"), (2, "test.after")]
    with sessions() as session:
        assert verify(session, []).ok
