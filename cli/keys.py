"""`rampart keys`: Key management: list and rotate keys."""

from __future__ import annotations

import typer

app = typer.Typer(help="Key management: list and rotate keys.", no_args_is_help=True)
