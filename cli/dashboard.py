"""`rampart dashboard`: the evidence dashboard's settings that are not pages. `engagement` opens,
lists and revokes auditor engagements through /v1/dashboard/engagements as the person
`rampart login` logged in (the policies decide: compliance officers open and revoke; the ledger
names them). An engagement lets an auditor account see its frameworks over its period on the
dashboard until it expires (docs/dashboard.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import typer

from cli.output import JsonOption, cli_errors, fail, print_json, print_table

app = typer.Typer(help="Evidence dashboard: auditor engagements.", no_args_is_help=True)
engagement_app = typer.Typer(help="Auditor engagements: open, list, revoke.", no_args_is_help=True)
app.add_typer(engagement_app, name="engagement")

PATH = "/v1/dashboard/engagements"
FrameworkOption = typer.Option(
    ..., "--framework", help="A framework the auditor may see (repeatable)."
)


def _server() -> Any:
    from cli.api import connect

    return connect()


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option} must be a date such as 2026-01-31, not {value!r}")


def _expiry(value: str) -> datetime:
    """A date means through that day: the engagement ends at the next midnight (UTC). An ISO
    8601 time ends it then (UTC when it has no offset)."""
    if len(value) == 10:
        return datetime.combine(_day(value, "--expires") + timedelta(days=1), time(), tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--expires must be a date (2026-08-31) or an ISO 8601 time, not {value!r}")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _id(value: str) -> str:
    from uuid import UUID

    try:
        return str(UUID(value))
    except ValueError:
        fail(f"{value!r} is not an engagement id")


def _state(row: dict[str, Any]) -> str:
    if row["active"]:
        return "active"
    return "revoked" if row["revoked_at"] else "expired"


def _summary(row: dict[str, Any]) -> str:
    frameworks = ", ".join(row["frameworks"])
    return (
        f"{row['id']}  auditor {row['auditor']}  {frameworks}  "
        f"{row['period_from']} to {row['period_to']}  expires {row['expires_at']}  {_state(row)}"
    )


@engagement_app.command("open")
def open_command(
    auditor: str = typer.Option(..., "--auditor", help="The auditor account's email (or id)."),
    framework: list[str] = FrameworkOption,
    start: str = typer.Option(..., "--from", help="First day of the audit period."),
    end: str = typer.Option(..., "--to", help="Last day of the audit period (inclusive)."),
    expires: str = typer.Option(
        ...,
        "--expires",
        help="When access ends: a date (through that day, UTC) or an ISO 8601 time.",
    ),
    json_output: bool = JsonOption,
) -> None:
    """Let an auditor see the frameworks over the period on the dashboard, until it expires."""
    body = {
        "auditor": auditor,
        "frameworks": framework,
        "period_from": _day(start, "--from").isoformat(),
        "period_to": _day(end, "--to").isoformat(),
        "expires_at": _expiry(expires).isoformat(),
    }
    with cli_errors():
        row = _server().post_json(PATH, body)
    if json_output:
        print_json(row)
        return
    typer.echo(f"opened {_summary(row)}")


@engagement_app.command("list")
def list_command(
    all_: bool = typer.Option(False, "--all", help="Also revoked and expired engagements."),
    json_output: bool = JsonOption,
) -> None:
    """Active engagements (all with --all), newest first."""
    with cli_errors():
        answer = _server().get_json(PATH)
    rows = [row for row in answer["engagements"] if all_ or row["active"]]
    if json_output:
        print_json({"engagements": rows})
        return
    print_table(
        "Auditor engagements",
        ["id", "auditor", "frameworks", "from", "to", "expires", "state", "opened by"],
        [
            [
                row["id"],
                row["auditor"],
                " ".join(row["frameworks"]),
                row["period_from"],
                row["period_to"],
                row["expires_at"][:16].replace("T", " ") + " UTC",
                _state(row),
                row["created_by"],
            ]
            for row in rows
        ],
    )


@engagement_app.command("revoke")
def revoke_command(
    engagement_id: str = typer.Argument(..., help="The engagement id (from `list`)."),
    json_output: bool = JsonOption,
) -> None:
    """End an engagement now: the auditor sees nothing more of it."""
    with cli_errors():
        row = _server().request("DELETE", f"{PATH}/{_id(engagement_id)}").json()
    if json_output:
        print_json(row)
        return
    typer.echo(f"revoked {_summary(row)}")
