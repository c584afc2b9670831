"""`rampart jobs`: background jobs and schedules: list, runs, run-now, pause, resume.

The job engine and database modules are imported inside the commands: `--help` stays fast."""

from __future__ import annotations

import json
from typing import Any

import typer

from cli.output import JsonOption, cli_errors, fail, print_json, print_table, stdout

app = typer.Typer(
    help="Background jobs and schedules: list, runs, run-now, pause, resume.",
    no_args_is_help=True,
)


def load_declared_jobs() -> None:
    """Import every module that declares jobs: the composition's list plus RAMPART_JOBS_MODULES."""
    from core.jobs import JobsConfig, load_job_modules
    from core.settings import get_settings
    from server import registry

    modules: tuple[str, ...] = getattr(registry, "JOB_MODULES", ())
    load_job_modules((*modules, *JobsConfig.from_settings(get_settings()).modules))


@app.command("list")
def list_jobs(json_output: bool = JsonOption) -> None:
    """Declared jobs and schedules with their state."""
    with cli_errors():
        from core.database import unit_of_work
        from core.jobs import admin

        load_declared_jobs()
        with unit_of_work() as session:
            listing = admin.list_jobs(session)
    if json_output:
        print_json(listing)
        return
    print_table(
        "Jobs and schedules",
        ["kind", "name", "job", "timing", "paused", "next slot", "failures in a row"],
        [
            [
                item["kind"],
                item["name"],
                item["job"],
                item["timing"],
                "yes" if item["paused"] else "",
                item["next_slot"],
                item["consecutive_failures"],
            ]
            for item in listing
        ],
    )


@app.command("runs")
def runs(
    job: str | None = typer.Option(None, "--job", help="Only runs of this job."),
    status: str | None = typer.Option(None, "--status", help="queued, running, succeeded, failed."),
    failed: bool = typer.Option(False, "--failed", help="Only failed runs and failed attempts."),
    limit: int = typer.Option(50, "--limit", min=1, max=10000),
    json_output: bool = JsonOption,
) -> None:
    """Run records, newest first: start, end, outcome, error, attempts."""
    with cli_errors():
        from core.database import unit_of_work
        from core.jobs import admin

        load_declared_jobs()
        with unit_of_work() as session:
            records = admin.list_runs(
                session, job_name=job, status=status, failed_only=failed, limit=limit
            )
    if json_output:
        print_json(records)
        return
    print_table(
        "Job runs",
        ["id", "job", "status", "attempts", "started", "finished", "error"],
        [
            [
                record["id"],
                record["job"],
                record["status"],
                f"{record['attempts']}/{record['max_attempts']}",
                record["started_at"],
                record["finished_at"],
                _summary(record["error"]),
            ]
            for record in records
        ],
        wrap={"error"},
    )


def _summary(error: str | None, limit: int = 200) -> str:
    """The first line of an error, cut with an ellipsis past ``limit`` (--json has it all)."""
    first = (error or "").strip().split("\n", 1)[0]
    return first if len(first) <= limit else first[: limit - 1] + "…"


@app.command("run-now")
def run_now(
    name: str = typer.Argument(..., help="A job or a schedule (runs with its arguments)."),
    args: str | None = typer.Option(None, "--args", help="Arguments as a JSON object."),
    json_output: bool = JsonOption,
) -> None:
    """Enqueue a job to run as soon as a worker is free."""
    parsed: dict[str, Any] | None = None
    if args is not None:
        try:
            loaded = json.loads(args)
        except json.JSONDecodeError as exc:
            fail(f"--args is not valid JSON: {exc.msg}")
        if not isinstance(loaded, dict):
            fail("--args must be a JSON object")
        parsed = loaded
    with cli_errors():
        from core.database import unit_of_work
        from core.jobs import admin

        load_declared_jobs()
        with unit_of_work() as session:
            run_id = admin.run_now(session, name, parsed)
    if json_output:
        print_json({"run_id": str(run_id), "name": name})
    else:
        stdout.print(f"enqueued run {run_id}")


def _set_paused(name: str, paused: bool, json_output: bool) -> None:
    with cli_errors():
        from core.database import unit_of_work
        from core.jobs import admin

        load_declared_jobs()
        with unit_of_work() as session:
            kind = admin.set_paused(session, name, paused)
    if json_output:
        print_json({"name": name, "kind": kind, "paused": paused})
    else:
        stdout.print(f"{kind} {name} {'paused' if paused else 'resumed'}")


@app.command("pause")
def pause(name: str = typer.Argument(...), json_output: bool = JsonOption) -> None:
    """Pause a schedule (its slots are skipped) or a job (its runs wait)."""
    _set_paused(name, True, json_output)


@app.command("resume")
def resume(name: str = typer.Argument(...), json_output: bool = JsonOption) -> None:
    """Resume a paused schedule or job."""
    _set_paused(name, False, json_output)


if __name__ == "__main__":
    app()
