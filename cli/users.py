"""`rampart user`: create, list, disable/enable (which also lifts a lockout) accounts, reset a
password or the second factors.

Passwords never come from the command line (shell history, `ps`): a hidden prompt, standard
input (`--password-stdin`) or RAMPART_USER_PASSWORD; `--generate-password` prints one once.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.flags import flag
from cli.output import JsonOption, cli_errors, fail, print_json, print_table, stdout
from core import context

if TYPE_CHECKING:
    from iam.accounts.models import User

# The database and the account and MFA services are imported inside the commands: `--help`
# imports no SQLAlchemy (tests/cli/test_startup.py).

app = typer.Typer(
    help="Accounts: create, list, disable, enable, reset-password, reset-mfa.",
    no_args_is_help=True,
)

RoleOption = typer.Option(None, "--role", help="Role (repeatable), e.g. admin.")
PASSWORD_ENV = "RAMPART_USER_PASSWORD"  # noqa: S105 - the variable's name, not a password


def _acting_as_cli() -> object:
    user = os.environ.get("SUDO_USER") or os.environ.get("USER") or "unknown"
    return context.set_current(context.ActingContext(actor=f"cli:{user}", origin="cli"))


def _read_password(*, from_stdin: bool, generate: bool, none: bool) -> tuple[str | None, bool]:
    """(password, generated) from exactly one source; never from argv."""
    if none:
        return None, False
    if generate:
        from iam.accounts.password_rules import generate_password

        return generate_password(), True
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            fail("no password on standard input")
        return line, False
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env, False
    if not sys.stdin.isatty():
        fail(f"no password: use --password-stdin, {PASSWORD_ENV}, or a terminal prompt")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password, False


def _user_dict(user: User, methods: list[str] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(user.id),
        "email": user.email,
        "name": user.name,
        "status": user.status,
        "roles": user.roles,
        "email_verified": user.email_verified,
        "created_at": user.created_at,
        "last_login_at": user.last_login_at,
        "locked_until": user.locked_until,
    }
    if methods is not None:
        data["mfa"] = methods
    return data


PasswordStdin = flag("--password-stdin", "Read the password from standard input.")
GeneratePassword = flag("--generate-password", "Generate a strong password and print it once.")


@app.command("create")
def create(
    email: str = typer.Argument(..., help="Email address (the login name)."),
    name: str = typer.Option(None, help="Display name."),
    role: list[str] | None = RoleOption,
    password_stdin: Annotated[bool, PasswordStdin] = False,
    generate: Annotated[bool, GeneratePassword] = False,
    no_password: Annotated[
        bool, flag("--no-password", "Create without a password (no local login).")
    ] = False,
    json_output: bool = JsonOption,
) -> None:
    """Create a new account. An existing email is refused: change a password with
    `rampart user reset-password`."""
    if sum((password_stdin, generate, no_password)) > 1:
        fail("choose one of --password-stdin, --generate-password, --no-password")
    with cli_errors():
        password, generated = _read_password(
            from_stdin=password_stdin, generate=generate, none=no_password
        )
        from core.database import unit_of_work
        from iam.accounts import service

        token = _acting_as_cli()
        try:
            with unit_of_work() as db:
                user = service.register_user(
                    db, email, password=password, name=name, roles=role or None
                )
                data = _user_dict(user)
        finally:
            context.reset(token)
    data["created"] = True
    if generated:
        data["password"] = password  # shown once, never stored in clear
    if json_output:
        print_json(data)
        return
    stdout.print(f"created user {data['email']} ({data['id']})")
    if generated:
        stdout.print(f"password (shown once): {password}")


@app.command("reset-password")
def reset_password(
    user: str = typer.Argument(..., help="Email or id."),
    password_stdin: Annotated[bool, PasswordStdin] = False,
    generate: Annotated[bool, GeneratePassword] = False,
    with_mfa: Annotated[
        bool, flag("--reset-mfa", "Also remove the second factors (they enrol again).")
    ] = False,
    reason: str = typer.Option(None, help="Why (kept in the audit ledger)."),
    json_output: bool = JsonOption,
) -> None:
    """Set a new password for an account (under the password rules) and end its sessions."""
    if password_stdin and generate:
        fail("choose one of --password-stdin, --generate-password")
    why = reason or "reset by an administrator"
    with cli_errors():
        password, generated = _read_password(
            from_stdin=password_stdin, generate=generate, none=False
        )
        assert password is not None  # noqa: S101 - none=False always yields one
        from core.database import unit_of_work
        from iam.accounts import service
        from iam.mfa.service import mfa_methods, reset_mfa

        token = _acting_as_cli()
        try:
            with unit_of_work() as db:
                account = service.require_user(db, user)
                service.reset_password(db, account, password, reason=why)
                if with_mfa:
                    reset_mfa(db, account.id, reason=why)
                data = _user_dict(account, mfa_methods(db, account.id))
        finally:
            context.reset(token)
    data["mfa_reset"] = with_mfa
    if generated:
        data["password"] = password  # shown once, never stored in clear
    if json_output:
        print_json(data)
        return
    stdout.print(f"password reset for {data['email']}" + (" (and MFA)" if with_mfa else ""))
    if generated:
        stdout.print(f"password (shown once): {password}")


@app.command("list")
def list_users(
    status: str = typer.Option(None, help="Only users with this status (active, disabled)."),
    json_output: bool = JsonOption,
) -> None:
    """List accounts with roles, status and second factors."""
    from core.database import unit_of_work
    from iam.accounts import service
    from iam.mfa.service import mfa_methods

    with cli_errors(), unit_of_work() as db:
        rows = [_user_dict(u, mfa_methods(db, u.id)) for u in service.list_users(db, status=status)]
    if json_output:
        print_json(rows)
        return
    print_table(
        "Users",
        ["email", "status", "roles", "mfa", "last login", "id"],
        [
            [r["email"], r["status"], ", ".join(r["roles"]), ", ".join(r["mfa"]) or "-",
             r["last_login_at"] or "never", r["id"]]
            for r in rows
        ],
    )  # fmt: skip


def _change(user_ref: str, action: str, reason: str | None, json_output: bool) -> None:
    with cli_errors():
        from core.database import unit_of_work
        from iam.accounts import service
        from iam.mfa.service import mfa_methods, reset_mfa

        token = _acting_as_cli()
        try:
            with unit_of_work() as db:
                user = service.require_user(db, user_ref)
                if action == "disable":
                    changed: bool | int = service.disable_user(
                        db, user, reason=reason or "disabled by an administrator"
                    )
                elif action == "enable":
                    changed = service.enable_user(db, user)
                else:
                    changed = reset_mfa(db, user.id, reason=reason or "reset by an administrator")
                data = _user_dict(user, mfa_methods(db, user.id))
        finally:
            context.reset(token)
    data["changed"] = bool(changed)
    if json_output:
        print_json(data)
    else:
        state = "done" if changed else "nothing to change"
        stdout.print(f"{action} {data['email']}: {state}")


@app.command("disable")
def disable(
    user: str = typer.Argument(..., help="Email or id."),
    reason: str = typer.Option(None, help="Why (kept in the audit ledger)."),
    json_output: bool = JsonOption,
) -> None:
    """Disable an account and end its sessions."""
    _change(user, "disable", reason, json_output)


@app.command("enable")
def enable(
    user: str = typer.Argument(..., help="Email or id."),
    json_output: bool = JsonOption,
) -> None:
    """Enable a disabled account, or lift the lockout of an active one."""
    _change(user, "enable", None, json_output)


@app.command("reset-mfa")
def reset_mfa_command(
    user: str = typer.Argument(..., help="Email or id."),
    reason: str = typer.Option(None, help="Why (kept in the audit ledger)."),
    json_output: bool = JsonOption,
) -> None:
    """Remove the user's second factors and recovery codes; they enrol again at next login."""
    _change(user, "reset-mfa", reason, json_output)
