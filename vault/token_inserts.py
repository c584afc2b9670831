"""Inserting token rows: one bulk statement for a batch (COPY on PostgreSQL, ``executemany``
on SQLite), all or none, or row by row skipping tokens already taken; and, in a group commit's
shared transaction, one insert for the rows of every request of the batch."""

from __future__ import annotations

import functools
from contextlib import nullcontext
from typing import Any

from sqlalchemy import Dialect, Executable, LargeBinary, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.audit.writer import at_batch_end
from core.errors import DatabaseUnavailable
from vault.models import VaultToken


def inserted_all(session: Session, rows: list[dict[str, Any]]) -> bool:
    """All the rows, or none of them when a token is taken (then drawn again the careful way)."""
    if len(rows) == 1:  # nothing to undo if it did not go in
        return len(insert_new(session, rows)) == 1
    try:
        with session.begin_nested():  # rolled back to here when a token was taken
            if len(insert_new(session, rows)) != len(rows):
                raise _TokenTaken
    except _TokenTaken:
        return False
    return True


class _TokenTaken(Exception):
    """Some rows of an all-or-none insert did not go in."""


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


def insert_new(session: Session, rows: list[dict[str, Any]]) -> set[str]:
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


def insert_at_batch_end(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """In a group commit's shared transaction: leave the rows to one insert for the whole batch
    and answer as if inserted; if any token turns out taken, that insert raises and every request
    is run again alone with :func:`insert_new` (collisions are astronomically rare)."""
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
    inserted = insert_new(session, rows)
    if len(inserted) != len(rows):
        raise BatchRowsCollided(f"{len(rows) - len(inserted)} of {len(rows)} tokens were taken")
