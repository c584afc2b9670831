"""Using tokens: detokenize (with a declared purpose, audited per call with every token id),
reveal masked, metadata, delete. Expiry and single use are enforced here, on use."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy.orm import Session

from core.audit.service import EventFields, record_event
from core.clock import utcnow
from core.errors import RampartError
from core.kms.exceptions import DataKeyDestroyed
from core.kms.service import load_data_key
from vault import repository
from vault.crypto import associated_data, decrypt_value
from vault.exceptions import (
    BatchTooLarge,
    PurposeInvalid,
    TokenExpired,
    TokenNotFound,
    ValueErased,
)
from vault.formats import check_token_shape
from vault.ids import audit_reason, public_id
from vault.oracles import CallerView, charge, trusted_view
from vault.records import MAX_BATCH_ITEMS, Deleted, Detokenized, Revealed, TokenRecord
from vault.repository import TokenRow
from vault.types import TypeSpec, mask, parse_type

# A purpose names why the value is needed, e.g. `payment.capture`, `refund`, `fraud.review`.
PURPOSE = re.compile(r"^[a-z][a-z0-9_.:-]{2,63}$")

T = TypeVar("T")
Found = TokenRow | RampartError


def detokenize_batch(
    session: Session,
    *,
    tenant: str,
    token_type: str,
    tokens: Sequence[str],
    purpose: str,
    actor: str | None = None,
) -> list[Detokenized | RampartError]:
    """The value or an error per token. Single-use tokens (SAD) are deleted as they are read."""
    results, event = detokenize_audited(
        session, tenant=tenant, token_type=token_type, tokens=tokens, purpose=purpose, actor=actor
    )
    record_event(session, **event)
    return results


def detokenize_audited(
    session: Session,
    *,
    tenant: str,
    token_type: str,
    tokens: Sequence[str],
    purpose: str,
    actor: str | None = None,
) -> tuple[list[Detokenized | RampartError], EventFields]:
    """:func:`detokenize_batch` without the append: the results and the audit event that must
    commit with them (for the group commit of the lean routes, vault.hot_endpoints)."""
    if not PURPOSE.match(purpose or ""):
        raise PurposeInvalid("declare a purpose: 3-64 characters, lower case, e.g. payment.capture")
    spec, found = _lookup(session, tenant, token_type, tokens)
    values = _decrypt(session, tenant, spec, found)
    results: list[Detokenized | RampartError] = []
    consumed: list[UUID] = []
    for token, row, value in zip(tokens, found, values, strict=True):
        if isinstance(value, RampartError):
            results.append(value)
            continue
        assert not isinstance(row, RampartError)  # noqa: S101 - a value implies a row
        if row.single_use:
            consumed.append(row.id)
        results.append(Detokenized(row.id, token, value))
    if consumed:
        results = _consume(session, consumed, results)
    event = _access_event("vault.detokenized", spec, found, results, actor, purpose=purpose)
    return results, event


def reveal_batch(
    session: Session,
    *,
    tenant: str,
    token_type: str,
    tokens: Sequence[str],
    actor: str | None = None,
) -> list[Revealed | RampartError]:
    """At most the first six and last four digits of a card (PCI DSS 3.4.1); types without a
    masked form (SAD) answer an error per item."""
    spec, found = _lookup(session, tenant, token_type, tokens)
    results: list[Revealed | RampartError] = []
    for token, row, value in zip(
        tokens, found, _decrypt(session, tenant, spec, found), strict=True
    ):
        if isinstance(value, RampartError) or isinstance(row, RampartError):
            results.append(value if isinstance(value, RampartError) else TokenNotFound())
            continue
        try:
            results.append(Revealed(row.id, token, mask(spec, value)))
        except RampartError as exc:
            results.append(exc)
    record_event(session, **_access_event("vault.revealed", spec, found, results, actor))
    return results


def metadata_batch(
    session: Session,
    *,
    tenant: str,
    token_type: str,
    tokens: Sequence[str],
    view: CallerView | None = None,
) -> list[TokenRecord | RampartError]:
    """What is known of each token but its value. Its fingerprint only to a caller that may see
    fingerprints and shares the token's comparison scope (vault.oracles); each shown counts
    against the caller's budget (429 past it, nothing answered)."""
    view = view or trusted_view(None)
    _spec, found = _lookup(session, tenant, token_type, tokens)
    records = [_map_row(row, lambda r: _metadata(r, view)) for row in found]
    shown = sum(1 for r in records if isinstance(r, TokenRecord) and r.fingerprint is not None)
    charge(session, tenant, view, shown, utcnow())
    return records


def delete_batch(
    session: Session,
    *,
    tenant: str,
    token_type: str,
    tokens: Sequence[str],
    actor: str | None = None,
) -> list[Deleted | RampartError]:
    spec, found = _lookup(session, tenant, token_type, tokens, allow_expired=True)
    ids = [row.id for row in found if not isinstance(row, RampartError)]
    repository.delete_by_ids(session, ids)
    results = [_map_row(row, lambda r: Deleted(r.id, r.token)) for row in found]
    record_event(session, **_access_event("vault.deleted", spec, found, results, actor))
    return results


def _map_row(row: Found, convert: Callable[[TokenRow], T]) -> T | RampartError:
    return row if isinstance(row, RampartError) else convert(row)


def _metadata(row: TokenRow, view: CallerView) -> TokenRecord:
    shown = view.show_fingerprints and row.fingerprint_scope == view.scope
    return TokenRecord(
        id=row.id,
        token=row.token,
        token_type=row.token_type,
        token_format=row.token_format,
        deterministic=row.deterministic,
        single_use=row.single_use,
        fingerprint=row.fingerprint if shown else None,
        subject=row.subject,
        created_at=row.created_at,
        expires_at=row.expires_at,
        created=False,
    )


def _lookup(
    session: Session,
    tenant: str,
    token_type: str,
    tokens: Sequence[str],
    *,
    allow_expired: bool = False,
) -> tuple[TypeSpec, list[Found]]:
    """Each token's row, or why there is none. A token of another type is "not found": the
    permission checked was for this type, so its existence under another is not disclosed."""
    spec = parse_type(token_type)
    if len(tokens) > MAX_BATCH_ITEMS:
        raise BatchTooLarge(f"a batch holds at most {MAX_BATCH_ITEMS} items")
    shaped: list[str | RampartError] = []
    for token in tokens:
        try:
            check_token_shape(spec, token)
            shaped.append(token)
        except RampartError as exc:
            shaped.append(exc)
    rows = repository.find_by_tokens(
        session, tenant, [t for t in shaped if not isinstance(t, RampartError)]
    )
    now = utcnow()
    found: list[Found] = []
    for item in shaped:
        if isinstance(item, RampartError):
            found.append(item)
            continue
        row = rows.get(item)
        if row is None or row.token_type != spec.type.value:
            found.append(TokenNotFound("no such token of this type"))
        elif not allow_expired and _expired(row.expires_at, now):
            found.append(TokenExpired("the token expired", id=public_id(row.id)))
        else:
            found.append(row)
    return spec, found


def _expired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and expires_at <= now


def _decrypt(
    session: Session, tenant: str, spec: TypeSpec, found: list[Found]
) -> list[str | RampartError]:
    keys: dict[UUID, bytes | RampartError] = {}
    for row in found:
        if isinstance(row, RampartError) or row.data_key_id in keys:
            continue
        try:
            keys[row.data_key_id] = load_data_key(session, row.data_key_id)
        except DataKeyDestroyed:
            keys[row.data_key_id] = ValueErased("the value's subject was erased")
    values: list[str | RampartError] = []
    for row in found:
        if isinstance(row, RampartError):
            values.append(row)
            continue
        key = keys[row.data_key_id]
        if isinstance(key, RampartError):
            values.append(ValueErased("the value's subject was erased", id=public_id(row.id)))
            continue
        aad = associated_data(tenant, spec.type.value, row.token)
        values.append(decrypt_value(key, row.ciphertext, aad))
    return values


def _consume(
    session: Session, consumed: list[UUID], results: list[Detokenized | RampartError]
) -> list[Detokenized | RampartError]:
    """Delete single-use rows one by one: a row another caller deleted first was not ours to
    read (PostgreSQL's row lock makes the loser see zero rows)."""
    lost = {row_id for row_id in consumed if repository.delete_by_ids(session, [row_id]) == 0}
    if not lost:
        return results
    return [
        TokenExpired("single-use token already used")
        if isinstance(r, Detokenized) and r.id in lost
        else r
        for r in results
    ]


def _access_event(
    event_type: str,
    spec: TypeSpec,
    found: list[Found],
    results: Sequence[Any],
    actor: str | None,
    *,
    purpose: str | None = None,
) -> EventFields:
    """One entry per call naming every token id and its outcome (PCI DSS 10.2.1.1); the values
    and the tokens themselves never go in."""
    ok = [public_id(r.id) for r in results if not isinstance(r, RampartError)]
    failed: dict[str, list[str]] = {}
    unknown: dict[str, int] = {}
    for row, result in zip(found, results, strict=True):
        if not isinstance(result, RampartError):
            continue
        if isinstance(row, RampartError):
            unknown[audit_reason(result)] = unknown.get(audit_reason(result), 0) + 1
        else:
            failed.setdefault(audit_reason(result), []).append(public_id(row.id))
    details: dict[str, Any] = {"type": spec.type.value, "ids": ok}
    if purpose is not None:
        details["purpose"] = purpose
    if failed:
        details["failed_ids"] = failed
    if unknown:
        details["unknown"] = unknown
    return EventFields(
        event_type=event_type,
        outcome="failure" if failed or unknown else "success",
        resource=f"vault:{spec.type.value}",
        details=details,
        actor=actor,
    )
