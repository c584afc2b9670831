"""Tokenize: validate each item, pick its key, draw a token, encrypt bound to the token, store
the whole batch in one statement, audit once. A failing item fails alone; a failing KMS or
database fails the call and nothing is written (the caller's unit of work rolls back).

The walk is one way: this module runs vault.preparation (checks, no database), then either
vault.token_rows before any transaction (keys in memory: :func:`draft_batch`) and
vault.token_inserts inside it (:func:`store_drafted`), or vault.storing inside it, the careful
way (:func:`store_audited`); vault.tokenize_audit describes the call for the ledger. The lean
routes (vault.hot_endpoints) validate and draft before, and store in, a group commit
(:meth:`core.audit.writer.AuditWriter.submit_work`); :func:`tokenize_batch` does it all in the
caller's unit of work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session

from core.audit.service import EventFields, PreparedEvent, prepare_event, record_event
from core.audit.writer import shares_batch
from core.errors import RampartError
from vault.exceptions import ValueMalformed
from vault.keys import FINGERPRINT_SCOPE, cached_scope_keys
from vault.oracles import CallerView, trusted_view
from vault.preparation import PreparedBatch as PreparedBatch
from vault.preparation import is_deterministic
from vault.preparation import prepare_batch as prepare_batch
from vault.records import Outcome, TokenizeRequest, TokenRecord
from vault.storing import store
from vault.token_inserts import insert_at_batch_end, insert_new, inserted_all
from vault.token_rows import draft_rows, record
from vault.tokenize_audit import tokenize_event
from vault.types import parse_type


def tokenize(
    session: Session,
    *,
    tenant: str,
    token_type: str,
    item: TokenizeRequest,
    actor: str | None = None,
    view: CallerView | None = None,
) -> TokenRecord:
    """One value; raises the item's error instead of returning it."""
    outcome = tokenize_batch(
        session, tenant=tenant, token_type=token_type, items=[item], actor=actor, view=view
    )[0]
    if isinstance(outcome, RampartError):
        raise outcome
    return outcome


def tokenize_batch(
    session: Session,
    *,
    tenant: str,
    token_type: str,
    items: Sequence[TokenizeRequest],
    actor: str | None = None,
    view: CallerView | None = None,
) -> list[Outcome]:
    """A token or an error per item, in order. KMS or database trouble raises (503), and so
    does a caller over its comparison budget (429, nothing stored: vault.oracles). ``view``:
    the caller's comparison scope and what it may see; in-process callers by default get
    :func:`vault.oracles.trusted_view` of ``actor``."""
    batch = prepare_batch(token_type, items)
    outcomes, event = store_audited(session, tenant, batch, actor, view)
    record_event(session, **event)
    return outcomes


def store_audited(
    session: Session,
    tenant: str,
    batch: PreparedBatch,
    actor: str | None,
    view: CallerView | None = None,
) -> tuple[list[Outcome], EventFields]:
    """Store a prepared batch in ``session``; returns a token or an error per item and the audit
    event to append in the same transaction. Safe to run again after a rollback: tokens are
    drawn afresh from copies of the prepared values."""
    view = view or trusted_view(actor)
    spec = batch.spec
    stored: dict[int, Outcome] = {}
    if batch.values:
        todo = [replace(value) for value in batch.values]
        insert = insert_at_batch_end if shares_batch(session) else insert_new
        deterministic = is_deterministic(spec)
        stored = store(session, tenant, spec, todo, deterministic, batch.now, insert, view)
    outcomes = _in_order(batch, stored, view)
    return outcomes, tokenize_event(spec, outcomes, actor)


def _in_order(
    batch: PreparedBatch, stored: Mapping[int, Outcome], view: CallerView
) -> list[Outcome]:
    """A result per item of the request, in order: refused items their error, the rest theirs
    (without its fingerprint unless the caller may see it)."""
    outcomes = [
        batch.refused.get(index) or stored.get(index) or ValueMalformed("not processed")
        for index in range(batch.size)
    ]
    if view.show_fingerprints:
        return outcomes
    return [
        replace(o, fingerprint=None) if isinstance(o, TokenRecord) and o.fingerprint else o
        for o in outcomes
    ]


def is_deterministic_type(token_type: str) -> bool:
    """Whether tokens of this type are convergent (then every new one is a comparable answer)."""
    return is_deterministic(parse_type(token_type))


@dataclass(frozen=True, slots=True)
class DraftedBatch:
    """A prepared batch with its tokens drawn and values encrypted, ready to insert: what
    :func:`store_audited` would store and answer, computed before any transaction."""

    batch: PreparedBatch
    rows: list[dict[str, Any]]
    outcomes: list[Outcome]
    event: PreparedEvent  # validated already, outside the transaction too


def draft_batch(
    tenant: str, batch: PreparedBatch, actor: str | None, view: CallerView | None = None
) -> DraftedBatch | None:
    """Draw and encrypt outside the transaction (no database, no KMS: keys from memory), so a
    group commit holds its write lock only to insert. None when that needs the database: keys
    not in memory, values bound to a subject, deterministic tokens (they look up earlier ones),
    answers that count against the caller's comparison budget (fingerprints shown)."""
    view = view or trusted_view(actor)
    spec = batch.spec
    if is_deterministic(spec) or any(value.subject for value in batch.values):
        return None
    if view.show_fingerprints and view.budget_owner is not None:
        return None
    scopes = {value.scope for value in batch.values}
    if not spec.sensitive_authentication:
        scopes.add(FINGERPRINT_SCOPE)
    keys = cached_scope_keys(tenant, scopes)
    if keys is None:
        return None
    fp_key = None if spec.sensitive_authentication else keys[FINGERPRINT_SCOPE][1]
    rows = draft_rows(tenant, spec, batch.values, keys, fp_key, batch.now, view.scope)
    drawn = {p.index: record(row, created=True) for p, row in zip(batch.values, rows, strict=True)}
    outcomes = _in_order(batch, drawn, view)
    event = prepare_event(**tokenize_event(spec, outcomes, actor))
    return DraftedBatch(batch, rows, outcomes, event)


def store_drafted(
    session: Session,
    tenant: str,
    draft: DraftedBatch,
    actor: str | None,
    view: CallerView | None = None,
) -> tuple[list[Outcome], EventFields | PreparedEvent]:
    """:func:`store_audited` for a drafted batch: in a group commit's shared transaction only
    its rows are left to the batch's one insert; alone, it is stored the careful way."""
    if not draft.rows:
        return draft.outcomes, draft.event
    if shares_batch(session):
        insert_at_batch_end(session, draft.rows)
        return draft.outcomes, draft.event
    if inserted_all(session, draft.rows):
        return draft.outcomes, draft.event
    return store_audited(session, tenant, draft.batch, actor, view)
