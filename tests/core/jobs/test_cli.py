"""`rampart jobs list|runs|run-now|pause|resume` with --json; errors are one stderr line and a
non-zero exit."""

from __future__ import annotations

import json

from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from cli.jobs import app

runner = CliRunner()


def _json(*args: str) -> object:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_list_shows_jobs_and_schedules(engine: Engine) -> None:
    listing = _json("list")
    assert isinstance(listing, list)
    by_name = {(item["kind"], item["name"]): item for item in listing}
    assert by_name[("job", "audit.checkpoint")]["security_relevant"] is True
    assert by_name[("schedule", "jobs.prune_runs")]["timing"] == "cron 30 3 * * * (UTC)"
    assert by_name[("job", "tests.echo")]["paused"] is False


def test_run_now_then_runs_shows_the_queued_run(engine: Engine) -> None:
    created = _json("run-now", "tests.echo", "--args", '{"value": 4}')
    assert isinstance(created, dict)
    records = _json("runs", "--job", "tests.echo")
    assert isinstance(records, list)
    assert [(r["id"], r["status"], r["args"]) for r in records] == [
        (created["run_id"], "queued", {"value": 4})
    ]
    assert _json("runs", "--failed") == []


def test_pause_and_resume_a_schedule_and_a_job(engine: Engine) -> None:
    assert _json("pause", "jobs.prune_runs") == {
        "name": "jobs.prune_runs",
        "kind": "schedule",
        "paused": True,
    }
    assert _json("pause", "tests.echo")["kind"] == "job"  # type: ignore[index]
    listing = _json("list")
    assert isinstance(listing, list)
    paused = {(item["kind"], item["name"]) for item in listing if item["paused"]}
    assert paused == {("schedule", "jobs.prune_runs"), ("job", "tests.echo")}
    _json("resume", "tests.echo")
    _json("resume", "jobs.prune_runs")
    listing = _json("list")
    assert isinstance(listing, list)
    assert not any(item["paused"] for item in listing)


def test_bad_input_is_one_line_on_stderr_with_a_non_zero_exit(engine: Engine) -> None:
    cases = [
        (["run-now", "tests.nope"], "error: unknown job 'tests.nope'"),
        (["run-now", "tests.echo", "--args", "{"], "error: --args is not valid JSON"),
        (["run-now", "tests.echo", "--args", "[1]"], "error: --args must be a JSON object"),
        (
            ["run-now", "tests.echo", "--args", '{"value": "many"}'],
            "error: invalid arguments for job 'tests.echo': value:",
        ),
        (["pause", "tests.nope"], "error: unknown job 'tests.nope'"),
        (["runs", "--status", "odd"], "error: status must be one of"),
    ]
    for args, message in cases:
        result = runner.invoke(app, [*args, "--json"])
        assert result.exit_code == 1, (args, result.output)
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(message), (args, result.stderr)
