"""Appending to the audit ledger, in the caller's transaction (flush, never commit).

:func:`prepare_event` validates and freezes an event (acting context included) and
:func:`append_prepared` chains any number of prepared events after the head in one go; the
group-commit writer (:mod:`core.audit.writer`) uses both for events that need no atomicity with
other data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict, Unpack

from sqlalchemy.orm import Session, make_transient_to_detached

from core import context
from core.audit import repository
from core.audit.canonical import canonical_details, entry_hash, format_occurred_at
from core.audit.models import OUTCOMES, AuditEntry
from core.clock import utcnow
from core.errors import SecretRefused, ValidationFailed
from core.sensitive import contains_card_number, find_secrets, mask_card_numbers

_MAX_LENGTHS = {"actor": 255, "event_type": 100, "origin": 255, "resource": 500, "request_id": 100}


class EventFields(TypedDict):
    """What a caller says about an event; every append entry point takes exactly these."""

    event_type: str
    outcome: NotRequired[str]
    resource: NotRequired[str | None]
    details: NotRequired[Mapping[str, Any] | None]
    actor: NotRequired[str | None]
    origin: NotRequired[str | None]
    request_id: NotRequired[str | None]


@dataclass(frozen=True, slots=True)
class PreparedEvent:
    """An event checked for secrets and lengths, its details canonical, its acting context
    resolved: it can be chained later, on any thread, without failing validation."""

    event_type: str
    outcome: str
    actor: str
    origin: str | None
    resource: str | None
    request_id: str | None
    details_text: str


def prepare_event(
    *,
    event_type: str,
    outcome: str = "success",
    resource: str | None = None,
    details: Mapping[str, Any] | None = None,
    actor: str | None = None,
    origin: str | None = None,
    request_id: str | None = None,
) -> PreparedEvent:
    """Validate one event; actor, origin and request id default to the acting context.
    Raises SecretRefused (naming the JSON path, never the value) or ValidationFailed."""
    _refuse_secrets(event_type, resource, details)
    acting = context.current()
    actor = actor if actor is not None else acting.actor
    origin = origin if origin is not None else acting.origin
    request_id = request_id if request_id is not None else acting.request_id
    _validate(
        outcome,
        actor=actor,
        event_type=event_type,
        origin=origin,
        resource=resource,
        request_id=request_id,
    )
    return PreparedEvent(
        event_type=event_type,
        outcome=outcome,
        actor=actor,
        origin=origin,
        resource=resource,
        request_id=request_id,
        details_text=canonical_details(details),
    )


def append_prepared(session: Session, events: Sequence[PreparedEvent]) -> list[dict[str, Any]]:
    """Chain ``events`` after the head, in order, under one head lock and one multi-row insert;
    returns the stored column values of each entry."""
    last_seq, last_hash = repository.lock_chain_head(session)
    # Taken under the lock so time never runs backwards along the chain on one host.
    occurred_at = utcnow()
    occurred_text = format_occurred_at(occurred_at)
    rows: list[dict[str, Any]] = []
    for event in events:
        seq = last_seq + 1
        digest = entry_hash(
            seq,
            last_hash,
            occurred_text,
            event.actor,
            event.event_type,
            event.outcome,
            event.origin,
            event.resource,
            event.request_id,
            event.details_text,
        )
        rows.append(
            {
                "seq": seq,
                "occurred_at": occurred_at,
                "actor": event.actor,
                "event_type": event.event_type,
                "outcome": event.outcome,
                "origin": event.origin,
                "resource": event.resource,
                "request_id": event.request_id,
                "details": event.details_text,
                "prev_hash": last_hash,
                "hash": digest,
            }
        )
        last_seq, last_hash = seq, digest
    if rows:
        repository.append_entries(session, rows)
    return rows


def record_event(session: Session, **fields: Unpack[EventFields]) -> AuditEntry:
    """Append one entry after the chain head, in the caller's transaction (for changes that
    must commit atomically with their audit entry); actor, origin and request id default to
    the acting context. Raises SecretRefused (naming the JSON path, never the value) and
    writes nothing when the entry would hold a card number or a secret-named field."""
    (values,) = append_prepared(session, [prepare_event(**fields)])
    # A Core insert, then the row joins the session as persistent without a second INSERT:
    # an ORM flush per entry cost more than the rest of the append together.
    entry = AuditEntry(**values)
    make_transient_to_detached(entry)
    session.add(entry)
    return entry


def _refuse_secrets(
    event_type: str, resource: str | None, details: Mapping[str, Any] | None
) -> None:
    paths = find_secrets(details) if details else []
    # A card number used as a key would show up in its own path: mask it there too.
    paths = [mask_card_numbers(path) for path in paths]
    if contains_card_number(event_type):
        paths.insert(0, "event_type")
    if resource and contains_card_number(resource):
        paths.insert(0, "resource")
    if paths:
        raise SecretRefused(
            "the audit ledger refuses values that look secret at " + ", ".join(paths),
            paths=paths,
        )


def _validate(outcome: str, **fields: str | None) -> None:
    if outcome not in OUTCOMES:
        raise ValidationFailed(f"audit outcome must be one of {', '.join(OUTCOMES)}")
    for name, value in fields.items():
        if value is not None and len(value) > _MAX_LENGTHS[name]:
            raise ValidationFailed(f"audit {name} is longer than {_MAX_LENGTHS[name]} characters")
    if not fields["event_type"]:
        raise ValidationFailed("audit event_type is required")
