"""`rampart policy`: policies as code — lint and test files, diff and apply them to the store,
show any version, list the history, roll back. Changes reach every server within a second.

The policy, database and Casbin modules are imported inside the commands: `--help` stays fast."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from cli.output import JsonOption, cli_errors, fail, print_json, print_table

if TYPE_CHECKING:
    from policies.service import VersionInfo

app = typer.Typer(
    help="Authorization policies: lint, test, diff, apply, history.", no_args_is_help=True
)

FilesArgument = typer.Argument(..., help="Policy files (.yaml or Casbin .csv), applied as one.")
TestPathsArgument = typer.Argument(
    None, help="Test files (*_test.yaml) or directories. Default: the built-in policy's tests."
)
ReasonOption = typer.Option(..., "--reason", "-m", help="Why (recorded with the version).")


def _actor() -> str:
    user = os.environ.get("SUDO_USER") or os.environ.get("USER") or "unknown"
    return f"cli:{user}"


def _acting_as_cli() -> object:
    from core import context

    return context.set_current(context.ActingContext(actor=_actor(), origin="cli"))


@app.command("lint")
def lint(files: list[Path] = FilesArgument, json_output: bool = JsonOption) -> None:
    """Report lines the enforcer refuses (errors) and likely mistakes (warnings)."""
    with cli_errors():
        from policies.document import read_raw_lines
        from policies.lint import lint_lines

        findings = [
            (path, finding) for path in files for finding in lint_lines(read_raw_lines(path))
        ]
    if json_output:
        print_json(
            [
                {"file": str(path), "level": f.level, "line": f.line_number, "message": f.message}
                for path, f in findings
            ]
        )
    else:
        for path, finding in findings:
            typer.echo(f"{path}:{finding.line_number}: {finding.level}: {finding.message}")
        errors = sum(1 for _, f in findings if f.level == "error")
        typer.echo(f"{errors} errors, {len(findings) - errors} warnings")
    if any(f.level == "error" for _, f in findings):
        raise typer.Exit(1)


@app.command("test")
def test(
    paths: list[Path] | None = TestPathsArgument,
    stored: bool = typer.Option(
        False, "--stored", help="Run the cases against the stored policy, not the files they name."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Run policy tests as data (allow/deny cases); exit 1 when any case fails."""
    with cli_errors():
        from core.database import unit_of_work
        from policies import service
        from policies.testing import find_test_files, run_test_file

        files = find_test_files(paths or [service.DEFAULTS_DIR])
        if not files:
            fail("no *_test.yaml file found")
        lines = None
        if stored:
            with unit_of_work(read_only=True) as db:
                lines = service.snapshot(db).lines
        results = [result for path in files for result in run_test_file(path, lines)]
    failed = [r for r in results if not r.passed]
    if json_output:
        print_json(
            [
                {
                    "file": r.file,
                    "name": r.name,
                    "expected": r.expected,
                    "actual": r.actual,
                    "passed": r.passed,
                    "rule": r.rule,
                }
                for r in results
            ]
        )
    else:
        for r in failed:
            typer.echo(
                f"FAIL {r.file}: {r.name}: expected {r.expected}, got {r.actual} (rule: {r.rule})"
            )
        typer.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise typer.Exit(1)


@app.command("diff")
def diff(files: list[Path] = FilesArgument, json_output: bool = JsonOption) -> None:
    """What applying the files would add (+) and remove (-) from the stored policy."""
    with cli_errors():
        from core.database import unit_of_work
        from policies import service
        from policies.document import load_policy_files

        document = load_policy_files(files)
        with unit_of_work(read_only=True) as db:
            current = service.snapshot(db)
    added, removed = service.diff_lines(current.lines, document.lines)
    if json_output:
        print_json({"version": current.version, "added": added, "removed": removed})
        return
    for line in removed:
        typer.echo(f"- {line}")
    for line in added:
        typer.echo(f"+ {line}")
    typer.echo(f"against version {current.version}: +{len(added)} -{len(removed)}")


def _change_dict(change: Any, head: int) -> dict[str, Any]:
    if change is None:
        return {"changed": False, "version": head}
    return {
        "changed": True,
        "version": change.version,
        "lines_added": len(change.added),
        "lines_removed": len(change.removed),
    }


@app.command("apply")
def apply(
    files: list[Path] = FilesArgument, reason: str = ReasonOption, json_output: bool = JsonOption
) -> None:
    """Make the files the policy: a new version (audited), enforced by every server within 1 s."""
    with cli_errors():
        from core import context
        from core.database import unit_of_work
        from policies import service
        from policies.document import load_policy_files

        document = load_policy_files(files)
        token = _acting_as_cli()
        try:
            with unit_of_work() as db:
                change = service.apply_policy(db, document.lines, actor=_actor(), reason=reason)
                head = service.head_version(db)
        finally:
            context.reset(token)
    result = _change_dict(change, head)
    if json_output:
        print_json(result)
    elif change is None:
        typer.echo(f"unchanged: the policy already is version {head}")
    else:
        typer.echo(f"policy version {change.version}: +{len(change.added)} -{len(change.removed)}")


@app.command("show")
def show(
    version: int | None = typer.Option(None, "--version", help="Default: the newest."),
    yaml_output: bool = typer.Option(False, "--yaml", help="Print as a YAML policy file."),
    json_output: bool = JsonOption,
) -> None:
    """Print the lines of a policy version."""
    from core.database import unit_of_work
    from policies import service
    from policies.document import document_to_yaml

    with cli_errors(), unit_of_work(read_only=True) as db:
        snapshot = service.snapshot(db, version)
    if json_output:
        print_json({"version": snapshot.version, "lines": list(snapshot.lines)})
    elif yaml_output:
        typer.echo(f"# policy version {snapshot.version}\n" + document_to_yaml(snapshot.lines))
    else:
        for line in snapshot.lines:
            typer.echo(line)


@app.command("history")
def history(limit: int = typer.Option(50, min=1, max=1000), json_output: bool = JsonOption) -> None:
    """Versions, newest first: when, who, why, what changed."""
    from core.database import unit_of_work
    from policies import service

    with cli_errors(), unit_of_work(read_only=True) as db:
        versions = service.history(db, limit)
    if json_output:
        print_json([vars_of(v) for v in versions])
        return
    print_table(
        "Policy versions",
        ["version", "created", "actor", "source", "+", "-", "lines", "reason"],
        [
            [
                v.version,
                v.created_at.isoformat(timespec="seconds"),
                v.actor,
                v.source,
                v.lines_added,
                v.lines_removed,
                v.line_count,
                v.reason,
            ]
            for v in versions
        ],
        wrap={"reason"},
    )


def vars_of(info: VersionInfo) -> dict[str, Any]:
    return {name: getattr(info, name) for name in info.__slots__}


@app.command("rollback")
def rollback(
    version: int = typer.Argument(..., help="The version to return to."),
    reason: str = ReasonOption,
    json_output: bool = JsonOption,
) -> None:
    """A new version equal to VERSION (history is kept)."""
    with cli_errors():
        from core import context
        from core.database import unit_of_work
        from policies import service

        token = _acting_as_cli()
        try:
            with unit_of_work() as db:
                change = service.rollback(db, version, actor=_actor(), reason=reason)
                head = service.head_version(db)
        finally:
            context.reset(token)
    result = _change_dict(change, head)
    if json_output:
        print_json(result)
    elif change is None:
        typer.echo(f"unchanged: version {head} already equals version {version}")
    else:
        typer.echo(f"policy version {change.version} (= version {version})")
