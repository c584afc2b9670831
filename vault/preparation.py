"""Preparing values to tokenize: each item checked and normalized (value, format, time to
live, subject) and given the key scope it is encrypted under, without the database or the KMS.
A bad item becomes its error; an unknown type or an oversize batch raises."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.clock import utcnow
from core.errors import RampartError
from core.settings import get_settings
from vault.exceptions import BatchTooLarge, TtlInvalid, ValueMalformed
from vault.formats import check_token_space, parse_format
from vault.keys import sad_scope, subject_scope, type_scope
from vault.records import MAX_BATCH_ITEMS, PreparedValue, TokenizeRequest
from vault.types import TypeSpec, parse_type

SAD_MAX_TTL_SECONDS = 3600  # PCI DSS 3.3.2 keeps SAD only until authorization completes

MAX_TTL_SECONDS = 10 * 366 * 86400

MAX_SUBJECT_CHARS = 200


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """Items checked and normalized, not yet stored: ``refused`` holds each failed item's error
    by index, ``values`` the rest."""

    spec: TypeSpec
    size: int
    now: datetime
    refused: dict[int, RampartError]
    values: tuple[PreparedValue, ...]


def prepare_batch(token_type: str, items: Sequence[TokenizeRequest]) -> PreparedBatch:
    """Validation only (no database, no KMS): an unknown type or an oversize batch raises, a
    bad item becomes its error."""
    spec = parse_type(token_type)
    if len(items) > MAX_BATCH_ITEMS:
        raise BatchTooLarge(f"a batch holds at most {MAX_BATCH_ITEMS} items")
    now = utcnow()
    refused: dict[int, RampartError] = {}
    values: list[PreparedValue] = []
    for index, item in enumerate(items):
        try:
            values.append(_prepare(spec, index, item, now))
        except RampartError as exc:
            refused[index] = exc
    return PreparedBatch(spec, len(items), now, refused, tuple(values))


def is_deterministic(spec: TypeSpec) -> bool:
    configured = get_settings().vault_deterministic_types
    return spec.type.value in configured and not spec.sensitive_authentication


def _prepare(spec: TypeSpec, index: int, item: TokenizeRequest, now: datetime) -> PreparedValue:
    value = spec.normalize(item.value)
    fmt = parse_format(spec, item.format)
    check_token_space(fmt, value)
    ttl = item.ttl_seconds
    if spec.sensitive_authentication:
        ttl = get_settings().vault_sad_ttl_seconds if ttl is None else ttl
        if not 1 <= ttl <= SAD_MAX_TTL_SECONDS:
            raise TtlInvalid(f"sensitive authentication data lives 1 to {SAD_MAX_TTL_SECONDS} s")
        return PreparedValue(index, value, fmt, None, sad_scope(now), now + timedelta(seconds=ttl))
    if ttl is not None and not 1 <= ttl <= MAX_TTL_SECONDS:
        raise TtlInvalid(f"time to live is 1 to {MAX_TTL_SECONDS} s")
    subject = item.subject
    if subject is not None and not 1 <= len(subject) <= MAX_SUBJECT_CHARS:
        raise ValueMalformed(f"subject is 1 to {MAX_SUBJECT_CHARS} characters")
    scope = subject_scope(subject) if subject else type_scope(spec.type.value, now)
    expires_at = now + timedelta(seconds=ttl) if ttl is not None else None
    return PreparedValue(index, value, fmt, subject, scope, expires_at)
