"""`rampart init` and `rampart serve`: from an empty directory to a running control plane."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

from cli.output import JsonOption, cli_errors, print_json, stderr, stdout
from core.errors import ValidationFailed
from core.settings import Settings, get_settings, refuse_insecure_production

if TYPE_CHECKING:
    from core.bootstrap import InitReport

# The database, keys and the IdP are imported inside the commands: `--help` imports no
# SQLAlchemy (tests/cli/test_startup.py).


@dataclass
class FirstAdmin:
    email: str
    created: bool
    generated_password: str | None = None


def _admin_password(interactive: bool) -> tuple[str, bool]:
    """RAMPART_ADMIN_PASSWORD, else a prompt when a person is there, else a generated one.

    Returns (password, generated)."""
    from iam.accounts.password_rules import generate_password

    settings = get_settings()
    if settings.admin_password is not None:
        return settings.admin_password.get_secret_value(), False
    if interactive and sys.stdin.isatty():
        password: str = typer.prompt(
            "Password for the first admin (>= 12 characters, letters and digits)",
            hide_input=True,
            confirmation_prompt=True,
        )
        return password, False
    if settings.env == "production":
        # A generated password is printed, and in production output ends up in collected logs.
        raise ValidationFailed(
            "RAMPART_ADMIN_PASSWORD is unset: production does not print a generated admin "
            "password; set it for the first admin (or run `rampart init` on a terminal)"
        )
    return generate_password(), True


def _ensure_identity(settings: Settings, admin_email: str | None, interactive: bool) -> FirstAdmin:
    """IdP keys, the default policy, the default consent purposes and the first admin account
    (created once; later runs change nothing)."""
    from compliance.gdpr.consent import seed_default_purposes
    from core.database import unit_of_work
    from iam.accounts.service import ensure_first_admin, has_admin
    from iam.keys.service import ensure_signing_key
    from iam.oauth2.service import ensure_cli_client
    from iam.sessions.secret_keys import ensure_root_key
    from policies.service import ensure_default_policy

    email = admin_email or settings.admin_email
    with unit_of_work() as db:
        ensure_root_key(db)
        ensure_signing_key(db)
        ensure_default_policy(db)
        ensure_cli_client(db)
        seed_default_purposes(db, actor="system:init")  # only when no purpose exists
        if has_admin(db):
            return FirstAdmin(email, created=False)
    password, generated = _admin_password(interactive)
    with unit_of_work() as db:
        user, created = ensure_first_admin(db, email, password)
    return FirstAdmin(user.email, created, password if generated and created else None)


def _print_report(report: InitReport, admin: FirstAdmin) -> None:
    if report.created or admin.created:
        for item in report.created:
            stdout.print(f"created {item}")
    else:
        stdout.print("already initialized; nothing to do")
    stdout.print(f"data directory: {report.data_dir}")
    stdout.print(f"database: {report.database}")
    stdout.print(f"key management: {report.kms}")
    if admin.created:
        stdout.print(f"created admin {admin.email}")
    if admin.generated_password:
        # Shown once, on the terminal that created it; it is stored only as an argon2id hash.
        stdout.print(f"admin login: {admin.email} / {admin.generated_password}  (change it)")


def init(
    admin_email: str = typer.Option(
        None, "--admin-email", help="Email of the first admin (default: RAMPART_ADMIN_EMAIL)."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Create the data directory, migrate, create keys and the first admin. Idempotent.

    The admin's password comes from RAMPART_ADMIN_PASSWORD or a prompt; without either (no
    terminal) a strong one is generated and printed once.
    """
    with cli_errors():
        settings = get_settings()
        from core.bootstrap import initialize

        report = initialize(settings)
        admin = _ensure_identity(settings, admin_email, interactive=not json_output)
    if json_output:
        print_json(
            {
                **report.__dict__,
                "fresh": report.fresh,
                "admin": {"email": admin.email, "created": admin.created},
                "admin_password": admin.generated_password,
            }
        )
    else:
        _print_report(report, admin)


def serve(
    host: str = typer.Option(None, help="Bind address (default: RAMPART_HOST, 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default: RAMPART_PORT, 8000)."),
    workers: int = typer.Option(None, help="Worker processes (default: RAMPART_WORKERS, 1)."),
) -> None:
    """Serve the control plane; on a fresh data directory, initialize first and print the
    admin login. RAMPART_ENV=production refuses insecure settings, one line each."""
    # The options become the settings of this process and of the server it execs into, so an
    # issuer derived from them (RAMPART_ISSUER unset) names the port really served.
    if host:
        os.environ["RAMPART_HOST"] = host
    if port:
        os.environ["RAMPART_PORT"] = str(port)
    get_settings.cache_clear()
    with cli_errors():
        settings = get_settings()
        refuse_insecure_production(settings, serving=True)
        from core.bootstrap import initialize

        report = initialize(settings)
        admin = _ensure_identity(settings, None, interactive=False)
    if report.created or admin.created:
        _print_report(report, admin)
    stderr.print(f"serving on http://{settings.host}:{settings.port} (issuer {settings.issuer})")
    sys.stdout.flush()
    sys.stderr.flush()
    # Replace this process with the bare server: set-up's imports leave memory with it.
    argv = [sys.executable, "-m", "server", "--host", settings.host, "--port", str(settings.port)]
    os.execv(sys.executable, [*argv, "--workers", str(workers or settings.workers)])  # noqa: S606
