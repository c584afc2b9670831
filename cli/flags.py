"""On/off options that read as plain switches in `--help`: the name alone (`--yes`,
`--no-password`), no generated `--no-…` twin and no `<bool>` type tag."""

from __future__ import annotations

from typing import Any

import typer


def flag(name: str, help: str) -> Any:
    """A switch that is off unless given."""
    return typer.Option(name, help=help, metavar="")


def toggle(names: str, help: str) -> Any:
    """A setting given either way, e.g. ``"--enabled/--disabled"``; unset when not given."""
    return typer.Option(names, help=help, metavar="")
