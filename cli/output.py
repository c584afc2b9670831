"""How every command speaks: tables or JSON on stdout, one-line errors on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from core.errors import RampartError
from core.settings import InvalidSettings

# Narrowest a free-text column is squeezed to before the table grows past the terminal.
FREE_TEXT_MIN_WIDTH = 16

stdout = Console()
stderr = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, sort_keys=False) + "\n")


def print_table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    wrap: Collection[str] = (),
) -> None:
    """A table whose cells are never cut: ids, names and dates stay whole on one line (copy and
    paste them); only the ``wrap`` columns (free text: reasons, errors) wrap to fit. When the
    whole cells alone are wider than the terminal the table is printed wider, not truncated."""
    cells = [["" if cell is None else str(cell) for cell in row] for row in rows]
    table = Table(title=title)
    needed = 1  # the left border; each column adds its padding (2) and a border (1)
    for index, column in enumerate(columns):
        free_text = column in wrap
        table.add_column(column, no_wrap=not free_text, overflow="fold")
        widest = max([len(column), *(len(row[index]) for row in cells)])
        needed += 3 + (min(widest, FREE_TEXT_MIN_WIDTH) if free_text else widest)
    for row in cells:
        table.add_row(*row)
    # Rich never prints wider than its console: a wider table gets a console of its own width.
    (stdout if needed <= stdout.width else Console(width=needed)).print(table)


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr, non-zero exit."""
    sys.stderr.write(f"error: {message}\n")
    raise typer.Exit(code)


def fail_lines(messages: Sequence[str], code: int = 1) -> NoReturn:
    """One stderr line per problem, non-zero exit."""
    sys.stderr.write("".join(f"error: {message}\n" for message in messages))
    raise typer.Exit(code)


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn Rampart's errors into one stderr line and exit code 1 (2 for unavailable services);
    refused settings into one line per problem."""
    try:
        yield
    except InvalidSettings as exc:
        fail_lines(exc.problems)
    except RampartError as exc:
        fail(exc.detail, 2 if exc.status == 503 else 1)
    except Exception as exc:
        if not _database_unreachable(exc):
            raise
        # The driver's message names host and port, never a password (URLs are not echoed).
        orig = getattr(exc, "orig", None)
        reason = str(orig).strip().splitlines()[0] if orig else "unreachable"
        fail(f"the database could not be reached: {reason}", 2)


def _database_unreachable(exc: Exception) -> bool:
    # Importing SQLAlchemy here would cost every command ~0.3 s; an exception of SQLAlchemy's
    # can only exist once SQLAlchemy has been imported.
    sqlalchemy_errors = sys.modules.get("sqlalchemy.exc")
    return sqlalchemy_errors is not None and isinstance(exc, sqlalchemy_errors.OperationalError)
