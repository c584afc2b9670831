"""Tokenize: validate each item, pick its key, draw a token, encrypt bound to the token, store
the whole batch in one statement, audit once. A failing item fails alone; a failing KMS or
database fails the call and nothing is written (the caller's unit of work rolls back).

Two steps, so the lean routes (vault.hot_endpoints) can validate before, and store in, a group
commit (:meth:`core.audit.writer.AuditWriter.submit_work`): :func:`prepare_batch` checks and
normalizes every item without touching the database; :func:`store_audited` stores them and
returns the audit event that must commit with them. :func:`tokenize_batch` does both in the
caller's unit of work.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Dialect, Executable, LargeBinary, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.audit.service import EventFields, PreparedEvent, prepare_event, record_event
from core.audit.writer import at_batch_end, shares_batch
from core.clock import utcnow
from core.errors import DatabaseUnavailable, RampartError
from core.ids import uuid7, uuid7s
from core.settings import get_settings
from vault import repository
from vault.crypto import (
    NONCE_BYTES,
    associated_data,
    deterministic_entropy,
    encrypt_value,
    fingerprint,
)
from vault.exceptions import BatchTooLarge, TokenSpaceExhausted, TtlInvalid, ValueMalformed
from vault.formats import ENTROPY_BYTES, check_token_space, generate_token, parse_format
from vault.ids import audit_reason, public_id
from vault.keys import (
    FINGERPRINT_SCOPE,
    cached_scope_keys,
    sad_scope,
    scope_keys,
    subject_scope,
    type_scope,
)
from vault.models import VaultToken
from vault.oracles import CallerView, charge, trusted_view
from vault.records import MAX_BATCH_ITEMS, PreparedValue, TokenizeRequest, TokenRecord
from vault.types import TypeSpec, parse_type

MAX_TOKEN_ATTEMPTS = 8
SAD_MAX_TTL_SECONDS = 3600  # PCI DSS 3.3.2 keeps SAD only until authorization completes
MAX_TTL_SECONDS = 10 * 366 * 86400
MAX_SUBJECT_CHARS = 200

Outcome = TokenRecord | RampartError


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
        insert = _insert_at_batch_end if shares_batch(session) else _insert_new
        deterministic = _is_deterministic(spec)
        stored = _store(session, tenant, spec, todo, deterministic, batch.now, insert, view)
    outcomes = _in_order(batch, stored, view)
    return outcomes, _tokenize_event(spec, outcomes, actor)


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
    return _is_deterministic(parse_type(token_type))


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
    if _is_deterministic(spec) or any(value.subject for value in batch.values):
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
    rows = _draft_rows(tenant, spec, batch.values, keys, fp_key, batch.now, view.scope)
    drawn = {p.index: _record(row, created=True) for p, row in zip(batch.values, rows, strict=True)}
    outcomes = _in_order(batch, drawn, view)
    event = prepare_event(**_tokenize_event(spec, outcomes, actor))
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
        _insert_at_batch_end(session, draft.rows)
        return draft.outcomes, draft.event
    if _inserted_all(session, draft.rows):
        return draft.outcomes, draft.event
    return store_audited(session, tenant, draft.batch, actor, view)


def _inserted_all(session: Session, rows: list[dict[str, Any]]) -> bool:
    """All the rows, or none of them when a token is taken (then drawn again the careful way)."""
    if len(rows) == 1:  # nothing to undo if it did not go in
        return len(_insert_new(session, rows)) == 1
    try:
        with session.begin_nested():  # rolled back to here when a token was taken
            if len(_insert_new(session, rows)) != len(rows):
                raise _TokenTaken
    except _TokenTaken:
        return False
    return True


class _TokenTaken(Exception):
    """Some rows of an all-or-none insert did not go in."""


def _is_deterministic(spec: TypeSpec) -> bool:
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


def _store(
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
        rows = _draw_rows(tenant, spec, todo, keys, fp_key_or_none, deterministic, now, view)
        inserted = insert(session, rows)
        collided = [p for p in todo if p.token not in inserted]
        for p, row in zip(todo, rows, strict=True):
            if p.token in inserted:
                results[p.index] = _record(row, created=True)
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
            results[p.index] = _record(row._mapping, created=False)
            continue
        first = first_of.setdefault((p.fingerprint, p.fmt.name), p)
        if first is p:
            todo.append(p)
        else:
            twins.append((p.index, first.index))
    return todo, twins


def _draw_rows(
    tenant: str,
    spec: TypeSpec,
    todo: list[PreparedValue],
    keys: dict[str, tuple[UUID, bytes]],
    fp_key: bytes | None,
    deterministic: bool,
    now: datetime,
    view: CallerView,
) -> list[dict[str, Any]]:
    rows = []
    drawn: set[str] = set()
    for p in todo:
        while True:
            if deterministic and fp_key is not None and p.fingerprint is not None:
                entropy = deterministic_entropy(
                    fp_key, spec.type.value, p.fmt.name, p.attempt, p.fingerprint
                )
            else:
                entropy = os.urandom(ENTROPY_BYTES)
            p.token = generate_token(spec, p.fmt, p.value, entropy)
            if p.token not in drawn:
                break
            p.attempt += 1
        drawn.add(p.token)
        row = _token_row(
            tenant, spec, p, p.token, keys, p.fingerprint, now, deterministic, view.scope
        )
        rows.append(row)
    return rows


def _draft_rows(
    tenant: str,
    spec: TypeSpec,
    values: Sequence[PreparedValue],
    keys: dict[str, tuple[UUID, bytes]],
    fp_key: bytes | None,
    now: datetime,
    scope: str,
) -> list[dict[str, Any]]:
    """:func:`_draw_rows` for random tokens, leaving ``values`` as they are (a batch stored the
    careful way later starts from them) and reading the OS's randomness once for the batch."""
    type_name = spec.type.value
    per_value = ENTROPY_BYTES + NONCE_BYTES
    randomness = os.urandom(per_value * len(values))
    ids = uuid7s(len(values))
    rows = []
    drawn: set[str] = set()
    for position, (p, row_id) in enumerate(zip(values, ids, strict=True)):
        start = position * per_value
        token = generate_token(spec, p.fmt, p.value, randomness[start : start + ENTROPY_BYTES])
        while token in drawn:  # a small token space can repeat within one batch
            token = generate_token(spec, p.fmt, p.value, os.urandom(ENTROPY_BYTES))
        drawn.add(token)
        fp = None if fp_key is None else fingerprint(fp_key, type_name, p.value, scope)
        nonce = randomness[start + ENTROPY_BYTES : start + per_value]
        rows.append(
            _token_row(
                tenant, spec, p, token, keys, fp, now, False, scope, row_id=row_id, nonce=nonce
            )
        )
    return rows


def _token_row(
    tenant: str,
    spec: TypeSpec,
    p: PreparedValue,
    token: str,
    keys: dict[str, tuple[UUID, bytes]],
    fp: bytes | None,
    now: datetime,
    deterministic: bool,
    scope: str,
    *,
    row_id: UUID | None = None,
    nonce: bytes | None = None,
) -> dict[str, Any]:
    """The ``vault_tokens`` row of one value: its value encrypted under its scope's key, bound
    to the token (a fresh id and nonce unless the caller drew them for a whole batch)."""
    key_id, key = keys[p.scope]
    aad = associated_data(tenant, spec.type.value, token)
    return {
        "id": row_id or uuid7(),
        "tenant": tenant,
        "token": token,
        "token_type": spec.type.value,
        "token_format": p.fmt.name,
        "deterministic": deterministic,
        "single_use": spec.sensitive_authentication,
        "data_key_id": key_id,
        "ciphertext": encrypt_value(key, p.value, aad, nonce=nonce),
        "fingerprint": fp,
        "fingerprint_scope": scope if fp is not None else None,
        "subject": p.subject,
        "created_at": now,
        "expires_at": p.expires_at,
    }


@functools.cache
def _insert_skipping_taken(dialect: str) -> Executable:
    # Built once per dialect: constructing the statement per request showed in profiles.
    table = VaultToken.__table__
    assert isinstance(table, Table)  # noqa: S101 - declarative tables are Tables
    insert_of = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert_of(table)
        .on_conflict_do_nothing(index_elements=["tenant", "token"])
        .returning(table.c.token)
    )


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """Insert, skipping rows whose token is taken; returns the tokens that were inserted."""
    dialect = session.get_bind().dialect
    if len(rows) > 1 and _bulk_inserted(session, dialect, rows):
        return {row["token"] for row in rows}
    statement = _insert_skipping_taken(dialect.name)
    return {row[0] for row in session.connection().execute(statement, rows)}


_COLUMNS = tuple(column.name for column in VaultToken.__table__.columns)


def _bulk_inserted(
    session: Session, dialect: Dialect, rows: list[dict[str, Any]], *, savepoint: bool = True
) -> bool:
    """All rows in one bulk statement under a savepoint, or False with nothing written when a
    token is taken (the caller then inserts row by row, skipping it): COPY on PostgreSQL, a
    DB-API ``executemany`` elsewhere. The insert with RETURNING that skips taken tokens costs
    ~130 µs a row on PostgreSQL against a few for COPY; on SQLite the store step of a batch
    went from ~37 to ~26 µs a row with ``executemany`` (most of it SQLite's own index work).

    Without ``savepoint`` (a group commit's shared transaction, rolled back whole when this
    returns False) the two statements of a savepoint are saved, and a False leaves the
    transaction unusable: the caller must roll it back."""
    if dialect.name == "postgresql":
        return _copied(session, rows, savepoint=savepoint)
    statement, processors = _plain_insert(dialect)
    columns = []
    for name, bind in processors:  # column by column: most columns repeat one value
        values = [row[name] for row in rows]
        if bind is not None and name in _DISTINCT_PER_ROW:
            values = [bind(value) for value in values]
        elif bind is not None:
            converted: dict[Any, Any] = {}
            values = [
                converted[value] if value in converted else converted.setdefault(value, bind(value))
                for value in values
            ]
        columns.append(values)
    parameters = list(zip(*columns, strict=True))
    connection = session.connection()
    try:
        # rolled back to here when a token is taken
        with connection.begin_nested() if savepoint else nullcontext():
            connection.exec_driver_sql(statement, parameters)
    except IntegrityError:
        return False
    return True


_DISTINCT_PER_ROW = frozenset({"id", "token"})


@functools.cache
def _plain_insert(dialect: Dialect) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """The dialect's plain INSERT of every column, and each column's bind processor (how
    SQLAlchemy itself would convert a UUID or a datetime for the driver), computed once."""
    table = VaultToken.__table__
    assert isinstance(table, Table)  # noqa: S101 - declarative tables are Tables
    compiled = sqlite.insert(table).compile(dialect=dialect)
    processors = tuple(
        # bytes go to the driver as they are (wrapping each in a memoryview cost ~1 µs a row)
        (column.name, None)
        if isinstance(column.type, LargeBinary)
        else (column.name, column.type.dialect_impl(dialect).bind_processor(dialect))
        for column in table.columns
    )
    positions = compiled.positiontup or []
    if list(positions) != [name for name, _ in processors]:
        raise RuntimeError("vault_tokens insert parameters are not in column order")
    return str(compiled), processors


_COPY = f"COPY vault_tokens ({', '.join(_COLUMNS)}) FROM STDIN"


def _copied(session: Session, rows: list[dict[str, Any]], *, savepoint: bool = True) -> bool:
    """PostgreSQL: all rows through COPY, under a savepoint unless told otherwise (see
    :func:`_bulk_inserted`); False when a token is taken. An insert with RETURNING costs
    ~130 µs a row through the driver, COPY a few."""
    import psycopg  # only with PostgreSQL: the embedded default never loads the driver

    connection = session.connection()
    raw = connection.connection.dbapi_connection
    assert isinstance(raw, psycopg.Connection)  # noqa: S101 - the only PostgreSQL driver
    try:  # the savepoint is rolled back when the COPY fails
        with (
            connection.begin_nested() if savepoint else nullcontext(),
            raw.cursor() as cursor,
            cursor.copy(_COPY) as copy,
        ):
            for row in rows:
                copy.write_row([row[column] for column in _COLUMNS])
    except psycopg.errors.UniqueViolation:
        return False
    except psycopg.OperationalError as exc:  # raw driver error: say what SQLAlchemy would
        raise DatabaseUnavailable("the database could not be reached") from exc
    return True


_ROWS_AT_BATCH_END = "vault.tokens_at_batch_end"


class BatchRowsCollided(Exception):
    """A shared batch's bulk insert met a taken token: each request is then stored on its own."""


def _insert_at_batch_end(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """In a group commit's shared transaction: leave the rows to one insert for the whole batch
    and answer as if inserted; if any token turns out taken, that insert raises and every request
    is run again alone with :func:`_insert_new` (collisions are astronomically rare)."""
    pending: list[dict[str, Any]] = session.info.setdefault(_ROWS_AT_BATCH_END, [])
    if not pending:
        at_batch_end(session, _ROWS_AT_BATCH_END, _insert_batch_rows)
    pending.extend(rows)
    return {row["token"] for row in rows}


def _insert_batch_rows(session: Session) -> None:
    rows: list[dict[str, Any]] = session.info.pop(_ROWS_AT_BATCH_END, [])
    if len(rows) > 1:  # no savepoint: a taken token rolls the whole shared batch back anyway
        if not _bulk_inserted(session, session.get_bind().dialect, rows, savepoint=False):
            raise BatchRowsCollided(f"a token of {len(rows)} was taken")
        return
    inserted = _insert_new(session, rows)
    if len(inserted) != len(rows):
        raise BatchRowsCollided(f"{len(rows) - len(inserted)} of {len(rows)} tokens were taken")


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
            results[p.index] = _record(row._mapping, created=False)
        else:
            p.attempt += 1
            retry.append(p)
    return retry


def _record(row: Any, *, created: bool) -> TokenRecord:
    return TokenRecord(
        id=row["id"],
        token=row["token"],
        token_type=row["token_type"],
        token_format=row["token_format"],
        deterministic=row["deterministic"],
        single_use=row["single_use"],
        fingerprint=row["fingerprint"],
        subject=row["subject"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        created=created,
    )


def _expired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and expires_at <= now


def _tokenize_event(spec: TypeSpec, outcomes: list[Outcome], actor: str | None) -> EventFields:
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
