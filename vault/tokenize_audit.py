"""The ledger's entry of a tokenize call: counts, failures by reason and the first and last
ids created, never a value, token or fingerprint."""

from __future__ import annotations

from typing import Any

from core.audit.service import EventFields
from core.errors import RampartError
from vault.ids import audit_reason, public_id
from vault.records import Outcome, TokenRecord
from vault.types import TypeSpec


def tokenize_event(spec: TypeSpec, outcomes: list[Outcome], actor: str | None) -> EventFields:
    stored = [o for o in outcomes if isinstance(o, TokenRecord)]
    created = [o for o in stored if o.created]
    failures: dict[str, int] = {}
    for o in outcomes:
        if isinstance(o, RampartError):
            failures[audit_reason(o)] = failures.get(audit_reason(o), 0) + 1
    details: dict[str, Any] = {
        "type": spec.type.value,
        "items": len(outcomes),
        "created": len(created),
        "reused": len(stored) - len(created),
        "failures": failures,
    }
    if created:
        details["first_id"] = public_id(created[0].id)
        details["last_id"] = public_id(created[-1].id)
    return EventFields(
        event_type="vault.tokenized",
        outcome="success" if stored else "failure",
        resource=f"vault:{spec.type.value}",
        details=details,
        actor=actor,
    )
