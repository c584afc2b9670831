"""Entry point of the `rampart` command: registers one sub-command group per domain."""

from __future__ import annotations

import typer

from cli import apply, audit, clients, db, jobs, keys, policy, setup, users, vault, worker

app = typer.Typer(
    name="rampart",
    help="Rampart: identity, zero-trust authorization, tokenization vault and compliance evidence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("init")(setup.init)
app.command("serve")(setup.serve)
app.command("apply")(apply.apply)
app.add_typer(db.app, name="db")
app.add_typer(audit.app, name="audit")
app.add_typer(keys.app, name="keys")
app.add_typer(clients.app, name="client")
app.add_typer(users.app, name="user")
app.add_typer(vault.app, name="vault")
app.add_typer(policy.app, name="policy")
app.add_typer(jobs.app, name="jobs")
app.add_typer(__import__("cli.compliance", fromlist=["app"]).app, name="compliance")
app.command("worker")(worker.worker)


def main() -> None:
    app()
