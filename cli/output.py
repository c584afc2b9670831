"""How every command speaks: tables or JSON on stdout, one-line errors on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import OperationalError

from core.errors import RampartError
from core.settings import InvalidSettings

stdout = Console()
stderr = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, sort_keys=False) + "\n")


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    stdout.print(table)


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
    except OperationalError as exc:
        # The driver's message names host and port, never a password (URLs are not echoed).
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "unreachable"
        fail(f"the database could not be reached: {reason}", 2)
