"""`rampart audit`: Audit ledger: verify the hash chain and checkpoints."""

from __future__ import annotations

import typer

app = typer.Typer(help="Audit ledger: verify the hash chain and checkpoints.", no_args_is_help=True)
