"""The exact bytes an audit entry's hash covers (docs/audit.md restates them for auditors)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from core.errors import ValidationFailed

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of entry 1."""

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_occurred_at(moment: datetime) -> str:
    """UTC, microseconds, ``Z``: ``2025-01-31T09:15:00.123456Z``."""
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


def hashed_occurred_at(stored: str) -> str:
    """The hashed form of a time read as text, ``YYYY-MM-DD HH:MM:SS[.ffffff]`` in UTC.

    PostgreSQL's text form drops the fraction's trailing zeros (``.12``, or no fraction at
    all), SQLite stores all six digits; both come out as :func:`format_occurred_at` would."""
    if len(stored) != 26:
        stored = stored + ".000000" if len(stored) == 19 else stored.ljust(26, "0")
    return stored.replace(" ", "T") + "Z"


def canonical_details(details: Mapping[str, Any] | None) -> str:
    """Details as canonical JSON text: sorted keys, no whitespace, UTF-8, stored verbatim."""
    try:
        return orjson.dumps(dict(details or {}), option=orjson.OPT_SORT_KEYS).decode()
    except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
        raise ValidationFailed(f"audit details are not plain JSON: {exc}") from None


def canonical_entry(
    seq: int,
    prev_hash: str,
    occurred_at: str,
    actor: str,
    event_type: str,
    outcome: str,
    origin: str | None,
    resource: str | None,
    request_id: str | None,
    details: str,
) -> bytes:
    """Canonical JSON of the entry; ``details`` is embedded as its stored text, unchanged."""
    # Keys are written already sorted, so orjson needs no OPT_SORT_KEYS (faster when verifying).
    return orjson.dumps(
        {
            "actor": actor,
            "details": orjson.Fragment(details),
            "event_type": event_type,
            "occurred_at": occurred_at,
            "origin": origin,
            "outcome": outcome,
            "prev_hash": prev_hash,
            "request_id": request_id,
            "resource": resource,
            "seq": seq,
        }
    )


def entry_hash(
    seq: int,
    prev_hash: str,
    occurred_at: str,
    actor: str,
    event_type: str,
    outcome: str,
    origin: str | None,
    resource: str | None,
    request_id: str | None,
    details: str,
) -> str:
    """SHA-256 (lowercase hex) of :func:`canonical_entry` of the same arguments."""
    canonical = canonical_entry(
        seq,
        prev_hash,
        occurred_at,
        actor,
        event_type,
        outcome,
        origin,
        resource,
        request_id,
        details,
    )
    return hashlib.sha256(canonical).hexdigest()
