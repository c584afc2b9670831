"""`rampart apply -f FILE.yaml`: make roles, users, clients, the policy and the consent purposes
what the file says, in
one transaction (all or nothing); new client secrets and generated passwords are printed once.

The document and plan modules (accounts, clients, policies) are imported when the command runs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.output import JsonOption, cli_errors, print_json, print_table, stdout

if TYPE_CHECKING:
    from cli.apply_plan import ApplyOutcome


def _actor() -> str:
    user = os.environ.get("SUDO_USER") or os.environ.get("USER") or "unknown"
    return f"cli:{user}"


def _result(outcome: ApplyOutcome, *, dry_run: bool) -> dict[str, Any]:
    by_action: dict[str, list[str]] = {"create": [], "update": [], "unchanged": []}
    for change in outcome.changes:
        by_action[change.action].append(change.label)
    return {
        "dry_run": dry_run,
        "created": by_action["create"],
        "updated": by_action["update"],
        "unchanged": by_action["unchanged"],
        "secrets": outcome.client_secrets,
        "passwords": outcome.user_passwords,
        "connector_secrets": outcome.connector_secrets,
    }


def _print_human(outcome: ApplyOutcome, *, dry_run: bool) -> None:
    print_table(
        "Plan (dry run: nothing written)" if dry_run else "Applied",
        ["object", "action", "fields"],
        [(c.label, c.action, ", ".join(c.changes)) for c in outcome.changes],
        wrap={"fields"},
    )
    # Plain echo: rich would wrap a long secret across lines and break copy-paste.
    for name, secret in outcome.client_secrets.items():
        typer.echo(f"client {name} client_secret: {secret}")
    for email, password in outcome.user_passwords.items():
        typer.echo(f"user {email} password: {password}")
    for name, secret in outcome.connector_secrets.items():
        typer.echo(f"dsar connector {name} secret: {secret}")
    if outcome.client_secrets or outcome.user_passwords or outcome.connector_secrets:
        stdout.print("Store these now: they are not shown again.", style="bold yellow")


def apply(
    file: Annotated[Path, typer.Option("--file", "-f", help="The configuration document (YAML).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would change; write nothing.")
    ] = False,
    generate_passwords: Annotated[
        bool,
        typer.Option(
            "--generate-passwords",
            help="Give new users a generated password, printed once (else they have none).",
        ),
    ] = False,
    json_output: bool = JsonOption,
) -> None:
    """Declarative, idempotent configuration: users, roles, clients, policies from FILE."""
    with cli_errors():
        from cli.apply_document import load_document
        from cli.apply_plan import ApplyOutcome, execute, plan
        from core import context
        from core.database import unit_of_work

        # The whole document is validated before the database is opened.
        loaded = load_document(file)
        if dry_run:
            with unit_of_work(read_only=True) as db:
                outcome = ApplyOutcome(changes=plan(db, loaded))
        else:
            token = context.set_current(context.ActingContext(actor=_actor(), origin="cli"))
            try:
                with unit_of_work() as db:
                    outcome = execute(
                        db, loaded, actor=_actor(), generate_passwords=generate_passwords
                    )
            finally:
                context.reset(token)
    if json_output:
        print_json(_result(outcome, dry_run=dry_run))
    else:
        _print_human(outcome, dry_run=dry_run)
