"""Storing prepared values the careful way, inside the transaction: keys from the database or
the KMS, fingerprints, earlier deterministic tokens reused, the caller's comparison budget
charged, then tokens drawn and inserted, drawn again on a collision."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from vault import repository
from vault.crypto import fingerprint
from vault.exceptions import TokenSpaceExhausted
from vault.keys import FINGERPRINT_SCOPE, scope_keys
from vault.oracles import CallerView, charge
from vault.records import Outcome, PreparedValue, TokenRecord
from vault.token_rows import draw_rows, record
from vault.types import TypeSpec

MAX_TOKEN_ATTEMPTS = 8


def store(
    session: Session,
    tenant: str,
    spec: TypeSpec,
    prepared: list[PreparedValue],
    deterministic: bool,
    now: datetime,
    insert: Callable[[Session, list[dict[str, Any]]], set[str]],
    view: CallerView,
) -> dict[int, Outcome]:
    scopes = {p.scope for p in prepared}
    if not spec.sensitive_authentication:
        scopes.add(FINGERPRINT_SCOPE)
    keys = scope_keys(session, tenant, scopes)
    if not spec.sensitive_authentication:
        fp_key = keys[FINGERPRINT_SCOPE][1]
        for p in prepared:
            p.fingerprint = fingerprint(fp_key, spec.type.value, p.value, view.scope)
    results: dict[int, Outcome] = {}
    todo: list[PreparedValue] = prepared
    twins: list[tuple[int, int]] = []
    if deterministic:
        todo, twins = _reuse_deterministic(session, tenant, spec, prepared, now, results, view)
    # Every guess that misses is a new deterministic token or a fresh fingerprint shown: charged
    # before anything is stored, so a refused run stores nothing (vault.oracles).
    shows = view.show_fingerprints and not spec.sensitive_authentication
    charge(
        session, tenant, view, len(todo) if deterministic else len(prepared) if shows else 0, now
    )
    fp_key_or_none = keys[FINGERPRINT_SCOPE][1] if deterministic else None
    for _ in range(MAX_TOKEN_ATTEMPTS):
        if not todo:
            break
        rows = draw_rows(tenant, spec, todo, keys, fp_key_or_none, deterministic, now, view)
        inserted = insert(session, rows)
        collided = [p for p in todo if p.token not in inserted]
        for p, row in zip(todo, rows, strict=True):
            if p.token in inserted:
                results[p.index] = record(row, created=True)
        todo = _after_collisions(session, tenant, spec, collided, results) if collided else []
    for p in todo:
        results[p.index] = TokenSpaceExhausted("no free token after several attempts; retry")
    for index, first_index in twins:
        first = results[first_index]
        results[index] = replace(first, created=False) if isinstance(first, TokenRecord) else first
    return results


def _reuse_deterministic(
    session: Session,
    tenant: str,
    spec: TypeSpec,
    prepared: list[PreparedValue],
    now: datetime,
    results: dict[int, Outcome],
    view: CallerView,
) -> tuple[list[PreparedValue], list[tuple[int, int]]]:
    """Answer items whose value already has a token in the caller's scope; return the ones
    still to create and the (item, earlier item) pairs repeating a value within this batch."""
    fingerprints = [p.fingerprint for p in prepared if p.fingerprint is not None]
    existing = repository.find_by_fingerprints(
        session, tenant, spec.type.value, fingerprints, view.scope
    )
    expired = {row.id for row in existing.values() if _expired(row.expires_at, now)}
    if expired:
        repository.delete_by_ids(session, sorted(expired))
    todo: list[PreparedValue] = []
    twins: list[tuple[int, int]] = []
    first_of: dict[tuple[bytes | None, str], PreparedValue] = {}
    for p in prepared:
        row = existing.get(p.fingerprint) if p.fingerprint is not None else None
        if row is not None and row.id not in expired and row.token_format == p.fmt.name:
            results[p.index] = record(row._mapping, created=False)
            continue
        first = first_of.setdefault((p.fingerprint, p.fmt.name), p)
        if first is p:
            todo.append(p)
        else:
            twins.append((p.index, first.index))
    return todo, twins


def _after_collisions(
    session: Session,
    tenant: str,
    spec: TypeSpec,
    collided: list[PreparedValue],
    results: dict[int, Outcome],
) -> list[PreparedValue]:
    """Collided items: a deterministic twin stored concurrently is reused; others draw again."""
    holders = repository.find_by_tokens(session, tenant, [p.token for p in collided])
    retry = []
    for p in collided:
        row = holders.get(p.token)
        same_value = (
            row is not None
            and row.deterministic
            and row.token_type == spec.type.value
            and row.fingerprint == p.fingerprint
            and row.token_format == p.fmt.name
        )
        if same_value and row is not None:
            results[p.index] = record(row._mapping, created=False)
        else:
            p.attempt += 1
            retry.append(p)
    return retry


def _expired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and expires_at <= now
