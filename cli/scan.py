"""`rampart scan`: registered targets, scans with a live progress bar and zap-baseline's exit
codes (0 pass, 1 a finding at or above --fail-on, 2 findings below it only, 3 error), findings
and their lifecycle. Runs in-process on the database like `rampart compliance`."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.output import JsonOption, cli_errors, fail, print_json, print_table

app = typer.Typer(help="Scans: targets, runs, findings, accepted risks.", no_args_is_help=True)
target_app = typer.Typer(help="Registered scan targets: add, schedule, list, show, remove.",
                         no_args_is_help=True)  # fmt: skip
app.add_typer(target_app, name="target")

OutputOption = typer.Option(None, "--output", help="Report file (default stdout).")
RISK_CHOICES = ("info", "low", "medium", "high", "critical")


@contextmanager
def _acting_as_cli() -> Iterator[str]:
    from core import context

    actor = f"cli:{os.environ.get('SUDO_USER') or os.environ.get('USER') or 'unknown'}"
    token = context.set_current(context.ActingContext(actor=actor, origin="cli"))
    try:
        yield actor
    finally:
        context.reset(token)


def _headers(lines: list[str], from_env: list[str], from_stdin: bool) -> dict[str, str]:
    from scanners.exceptions import TargetInvalid
    from scanners.targets import parse_header

    headers = dict(parse_header(line) for line in lines)
    for item in from_env:
        name, sep, variable = item.partition("=")
        value = os.environ.get(variable) if sep else None
        if not sep or value is None:
            raise TargetInvalid(f"--header-env wants NAME=ENV_VARIABLE (set); got {name!r}")
        headers.update([parse_header(f"{name}: {value}")])
    if from_stdin:
        for line in sys.stdin.read().splitlines():
            if line.strip():
                headers.update([parse_header(line)])
    return headers


@target_app.command("add")
def target_add(
    url: str = typer.Argument(..., help="The target's base URL (http or https)."),
    name: str = typer.Option(..., "--name", help="Unique name, e.g. weak."),
    include: Annotated[
        list[str] | None, typer.Option("--include", help="Regex a URL must fully match.")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="Regex of URLs never fetched.")
    ] = None,
    header: Annotated[
        list[str] | None, typer.Option("--header", help="'Name: value' (visible to ps!).")
    ] = None,
    header_env: Annotated[
        list[str] | None,
        typer.Option("--header-env", help="NAME=ENV_VAR: header NAME, value from ENV_VAR."),
    ] = None,
    headers_stdin: bool = typer.Option(
        False, "--headers-stdin", help="Read 'Name: value' lines from stdin."
    ),
    schedule: str | None = typer.Option(
        None, "--schedule", help="Scan on a schedule: P1D, P7D, P1M or cron '0 3 * * 1' (UTC)."
    ),
    scan_engine: str = typer.Option(
        "builtin", "--scan-engine", help="Engine of scheduled scans: builtin, wapiti or zap."
    ),
    auth_client: str | None = typer.Option(
        None, "--auth-client", help="Rampart client whose client-credentials token scans send."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Register a target; header values are sealed and never shown again, only their names."""
    from core.database import unit_of_work
    from scanners.targets import add_target

    with cli_errors(), _acting_as_cli() as actor:
        headers = _headers(header or [], header_env or [], headers_stdin)
        with unit_of_work() as session:
            added = add_target(
                session,
                name=name,
                url=url,
                include=include or [],
                exclude=exclude or [],
                headers=headers,
                schedule=schedule,
                engine=scan_engine,
                auth_client=auth_client,
                actor=actor,
            )
            shown = added.describe()
    if json_output:
        print_json(shown)
        return
    print(f"target {shown['name']} added: {shown['url']} (headers: "
          f"{', '.join(shown['header_names']) or 'none'})")  # fmt: skip


@target_app.command("schedule")
def target_schedule(
    name: str = typer.Argument(..., help="The target's name."),
    schedule: str = typer.Argument(..., help="P1D, P7D, P1M, a cron expression (UTC), or off."),
    scan_engine: str | None = typer.Option(
        None, "--scan-engine", help="Engine of scheduled scans: builtin, wapiti or zap."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Scan a target on a schedule (scanners.schedule_due starts due scans every minute)."""
    from core.database import unit_of_work
    from scanners.targets import set_schedule

    with cli_errors(), _acting_as_cli() as actor, unit_of_work() as session:
        shown = set_schedule(session, name, schedule, engine=scan_engine, actor=actor).describe()
    if json_output:
        print_json(shown)
        return
    when = shown["schedule"] or "off"
    print(f"target {shown['name']}: schedule {when} (engine {shown['engine']})")


@target_app.command("list")
def target_list(json_output: bool = JsonOption) -> None:
    """Registered targets with their scope and header names."""
    from core.database import unit_of_work
    from scanners.targets import list_targets

    with cli_errors(), unit_of_work(read_only=True) as session:
        rows = [t.describe() for t in list_targets(session)]
    if json_output:
        print_json({"targets": rows})
        return
    print_table("Scan targets", ["name", "url", "include", "exclude", "headers", "schedule"],
                [[r["name"], r["url"], " ".join(r["include"]), " ".join(r["exclude"]),
                  ", ".join(r["header_names"]), r["schedule"] or "off"]
                 for r in rows])  # fmt: skip


@target_app.command("show")
def target_show(name: str, json_output: bool = JsonOption) -> None:
    """One target (header names only)."""
    from core.database import unit_of_work
    from scanners.targets import show_target

    with cli_errors(), unit_of_work(read_only=True) as session:
        shown = show_target(session, name).describe()
    if json_output:
        print_json(shown)
        return
    for key, value in shown.items():
        print(f"{key}: {value}")


@target_app.command("remove")
def target_remove(name: str, json_output: bool = JsonOption) -> None:
    """Remove a target with its scans and findings; its header key is destroyed."""
    from core.database import unit_of_work
    from scanners.targets import remove_target

    with cli_errors(), _acting_as_cli() as actor, unit_of_work() as session:
        shown = remove_target(session, name, actor=actor).describe()
    if json_output:
        print_json({"removed": shown["name"]})
        return
    print(f"target {shown['name']} removed")


def _check_format(fmt: str) -> None:
    """Before any scan starts: an unknown format is exit 3 without scanning."""
    from scanners.reports import FORMATS

    if fmt not in FORMATS:
        fail(f"unknown report format {fmt!r}; formats: {', '.join(FORMATS)}", 3)


def _write_report(fmt: str, output: Path | None, target: Any, scan: Any, rows: list[Any]) -> None:
    from scanners import reports

    _check_format(fmt)
    data: bytes = reports.render(fmt, target=target, scan=scan, findings=rows)
    if output is None:
        sys.stdout.buffer.write(data)
    else:
        output.write_bytes(data)


@app.command("run")
def run(
    target: str = typer.Argument(..., help="A registered target's name."),
    engine: str = typer.Option("builtin", "--engine", help="builtin, wapiti or zap."),
    fail_on: str = typer.Option("high", "--fail-on", help="Lowest risk that fails (exit 1)."),
    fmt: str | None = typer.Option(None, "--format", help="sarif, junit, json or html."),
    output: Path | None = OutputOption,
    json_output: bool = JsonOption,
) -> None:
    """Scan a registered target now. Exit 0 pass, 1 a finding at or above --fail-on, 2 only
    findings below it, 3 the scan could not run."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from cli.output import stderr
    from core.database import unit_of_work
    from core.errors import RampartError
    from scanners.findings import ACTIVE, describe
    from scanners.models import Finding, ScanTarget
    from scanners.rules import risk_rank
    from scanners.runner import create_scan, execute_scan, get_scan

    if fail_on not in RISK_CHOICES:
        fail(f"--fail-on must be one of {', '.join(RISK_CHOICES)}", 3)
    if fmt is not None:
        _check_format(fmt)
    try:
        with _acting_as_cli() as actor:
            with unit_of_work() as session:
                scan_id = create_scan(session, target, engine, actor=actor).id
            show = not json_output and sys.stderr.isatty()
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          console=stderr, disable=not show, transient=True) as bar:  # fmt: skip
                task = bar.add_task(f"scanning {target}", total=None)
                result = execute_scan(
                    scan_id,
                    on_progress=lambda d, t, _m: bar.update(task, completed=d, total=t),
                )
            with unit_of_work(read_only=True) as session:
                scan = get_scan(session, scan_id)
                observed = set(json.loads(scan.observed))
                row = session.get(ScanTarget, scan.target_id)
                rows = [
                    f
                    for f in session.query(Finding).filter(Finding.target_id == scan.target_id)
                    if f.fingerprint in observed and f.status in ACTIVE
                ]
                rows.sort(key=lambda f: (-risk_rank(f.risk), f.rule, f.url_template))
                if result["status"] == "complete" and fmt is not None:
                    _write_report(fmt, output, row, scan, rows)
                found = [describe(f) for f in rows]
    except RampartError as exc:
        fail(exc.detail or exc.title, 3)
    if result["status"] != "complete":
        fail(f"scan {result['id']} failed: {result['error']}", 3)
    failing = [f for f in found if risk_rank(f["risk"]) >= risk_rank(fail_on)]
    code = 1 if failing else (2 if found else 0)
    if json_output:
        print_json({"scan": result, "findings": found, "exit_code": code})
    elif fmt is None or output is not None:
        print_table(f"Findings of scan {result['id']}", ["risk", "rule", "url", "parameter",
                    "status", "id"], [[f["risk"], f["rule"], f["url_template"], f["parameter"],
                    f["status"], f["id"]] for f in found])  # fmt: skip
        print(f"{len(failing)} at or above {fail_on}, {len(found) - len(failing)} below")
    raise typer.Exit(code)


@app.command("findings")
def findings_list(
    target: str = typer.Argument(..., help="A registered target's name."),
    status: Annotated[
        list[str] | None, typer.Option("--status", help="new, open, fixed, accepted, ...")
    ] = None,
    min_risk: str = typer.Option("info", "--min-risk", help="Lowest risk listed."),
    json_output: bool = JsonOption,
) -> None:
    """A target's findings (active ones unless --status says otherwise)."""
    from core.database import unit_of_work
    from scanners.findings import ACTIVE, describe, list_findings
    from scanners.targets import find

    with cli_errors(), unit_of_work() as session:
        rows = [describe(f) for f in list_findings(session, find(session, target),
                statuses=status or ACTIVE, min_risk=min_risk)]  # fmt: skip
    if json_output:
        print_json({"findings": rows})
        return
    print_table("Findings", ["risk", "rule", "url", "parameter", "status", "sla due", "id"],
                [[r["risk"], r["rule"], r["url_template"], r["parameter"], r["status"],
                  r["sla_due_at"][:10], r["id"]] for r in rows])  # fmt: skip


@app.command("show")
def show(finding_id: str, json_output: bool = JsonOption) -> None:
    """One finding with its (masked) evidence."""
    from core.database import unit_of_work
    from scanners.findings import describe, get_finding

    with cli_errors(), unit_of_work(read_only=True) as session:
        shown = describe(get_finding(session, finding_id))
    if json_output:
        print_json(shown)
        return
    for key, value in shown.items():
        print(f"{key}: {value}")


def _until(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        fail("--until must be an ISO date, e.g. 2027-03-31")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@app.command("accept")
def accept(
    finding_id: str,
    reason: str = typer.Option(..., "--reason"),
    approver: str = typer.Option(..., "--approver"),
    until: str = typer.Option(..., "--until", help="ISO date the acceptance expires."),
    json_output: bool = JsonOption,
) -> None:
    """Accept a finding's risk until a date (it reopens by itself afterwards)."""
    from core.database import unit_of_work
    from scanners.findings import accept_risk, describe

    expiry = _until(until)
    with cli_errors(), _acting_as_cli() as actor, unit_of_work() as session:
        shown = describe(accept_risk(session, finding_id, reason=reason, approver=approver,
                                     until=expiry, actor=actor))  # fmt: skip
    if json_output:
        print_json(shown)
        return
    print(f"finding {shown['id']} accepted until {shown['accepted_until']}")


@app.command("false-positive")
def false_positive(
    finding_id: str, reason: str = typer.Option(..., "--reason"), json_output: bool = JsonOption
) -> None:
    """Mark a finding a false positive (later scans leave it so)."""
    from core.database import unit_of_work
    from scanners.findings import describe, mark_false_positive

    with cli_errors(), _acting_as_cli() as actor, unit_of_work() as session:
        shown = describe(mark_false_positive(session, finding_id, reason=reason, actor=actor))
    if json_output:
        print_json(shown)
        return
    print(f"finding {shown['id']} marked false positive")


@app.command("report")
def report(
    target: str = typer.Argument(..., help="A registered target's name."),
    fmt: str = typer.Option("json", "--format", help="sarif, junit, json or html."),
    output: Path | None = OutputOption,
    json_output: bool = JsonOption,
) -> None:
    """A report of the target's active findings."""
    from core.database import unit_of_work
    from scanners.findings import list_findings
    from scanners.targets import find

    _check_format(fmt)
    with cli_errors(), unit_of_work() as session:
        row = find(session, target)
        rows = list_findings(session, row)
        _write_report(fmt, output, row, None, rows)
    if json_output and output is not None:
        print_json({"written": str(output), "findings": len(rows)})
