"""Entry point of the `rampart` command: one sub-command group per domain, each imported only
when it runs, so `rampart --help` does not pay for SQLAlchemy, FastAPI, authlib or Casbin.

To add a command or a group, add one line to ``COMMANDS``: its name, ``"module:attribute"``
(a ``typer.Typer`` for a group, a function for a single command) and the one line that
`rampart --help` lists for it, e.g. ``Lazy("login", "cli.login:login", "Log in as an operator.")``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command_from_info, get_group_from_info
from typer.models import CommandInfo, TyperInfo

if TYPE_CHECKING:
    # typer ships its own copy of click; its Context is the one commands receive.
    from typer._click import Context


@dataclass(frozen=True, slots=True)
class Lazy:
    name: str
    target: str  # "module:attribute"
    help: str


COMMANDS: tuple[Lazy, ...] = (
    Lazy("init", "cli.setup:init", "Create the data directory, keys and the first admin."),
    Lazy("serve", "cli.setup:serve", "Serve the control plane (initializes a fresh one)."),
    Lazy("apply", "cli.apply:apply", "Make users, roles, clients and policies what FILE says."),
    Lazy("worker", "cli.worker:worker", "Work background jobs apart from the API servers."),
    Lazy("login", "cli.login:login", "Log in as yourself (device code, approved in a browser)."),
    Lazy("logout", "cli.login:logout", "Revoke your login's tokens and delete them here."),
    Lazy("whoami", "cli.login:whoami", "Who you are logged in as, where, until when."),
    Lazy("db", "cli.db:app", "Database schema: upgrade, current revision."),
    Lazy("audit", "cli.audit:app", "Audit ledger: verify, tail, sign and export checkpoints."),
    Lazy("keys", "cli.keys:app", "Key management: list, rotate, rewrap."),
    Lazy("client", "cli.clients:app", "OAuth clients: create, list, update, rotate, delete."),
    Lazy("user", "cli.users:app", "Accounts: create, list, disable, reset-password, reset MFA."),
    Lazy("vault", "cli.vault:app", "Tokenization vault: tokenize, detokenize, stats, routes."),
    Lazy("policy", "cli.policy:app", "Authorization policies: lint, test, diff, apply, history."),
    Lazy("jobs", "cli.jobs:app", "Background jobs: list, runs, run-now, pause, resume."),
    Lazy("compliance", "cli.compliance:app", "Controls and evidence: list, run, status, verify."),
    Lazy("review", "cli.review:app", "Access reviews (7.2.4): start, list, decide, sign-off."),
    Lazy("evidence", "cli.evidence:app", "Evidence exports for auditors: export, verify, key."),
    Lazy("dashboard", "cli.dashboard:app", "Evidence dashboard: auditor engagements."),
    Lazy("dsar", "cli.dsar:app", "GDPR data-subject requests: file, list, decide, process."),
    Lazy("scan", "cli.scan:app", "Scans: targets, runs with exit codes, findings, reports."),
    Lazy("demo", "cli.demo:app", "Demo data: seed a realistic demo shop to explore."),
)

# Plain help (no rich panels): options read as `--json`, `--limit <int>`, without a type tag on
# every flag, and the help needs no rich import.
MARKUP_MODE = None


def load(entry: Lazy) -> TyperCommand | TyperGroup:
    """Import the module of ``entry`` and build its click command (a group for a Typer)."""
    module_name, _, attribute = entry.target.partition(":")
    target = getattr(importlib.import_module(module_name), attribute)
    command: TyperCommand | TyperGroup
    if isinstance(target, typer.Typer):
        command = get_group_from_info(
            TyperInfo(target),
            pretty_exceptions_short=True,
            suggest_commands=True,
            rich_markup_mode=MARKUP_MODE,
        )
    else:
        single = get_command_from_info(
            CommandInfo(name=entry.name, callback=target),
            pretty_exceptions_short=True,
            rich_markup_mode=MARKUP_MODE,
        )
        assert isinstance(single, TyperCommand)  # noqa: S101 - typer's default command class
        command = single
    command.name = entry.name
    return command


class LazyCommand(TyperCommand):
    """Stands in for a command in the listing; parsing its arguments loads the real one."""

    def __init__(self, entry: Lazy) -> None:
        super().__init__(name=entry.name, help=entry.help, rich_markup_mode=MARKUP_MODE)
        self.entry = entry
        self._loaded: TyperCommand | TyperGroup | None = None

    def loaded(self) -> TyperCommand | TyperGroup:
        if self._loaded is None:
            self._loaded = load(self.entry)
        return self._loaded

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: Context | None = None,
        **extra: Any,
    ) -> Context:
        # The context (and so its invoke, --help and errors) belongs to the real command.
        return self.loaded().make_context(info_name, args, parent=parent, **extra)


class RampartGroup(TyperGroup):
    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for entry in COMMANDS:
            self.add_command(LazyCommand(entry))


app = typer.Typer(
    name="rampart",
    help="Rampart: identity, zero-trust authorization, tokenization vault and compliance evidence.",
    cls=RampartGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=MARKUP_MODE,
)


@app.callback()
def rampart() -> None:
    # A callback makes the app a group even before the lazy commands are added.
    pass


def main() -> None:
    app()
