"""Per-target schedules: a due target gets exactly one scan even when scanners.schedule_due runs
twice at once, a target that is not due gets none, durations keep their cadence, cron slots
come from core.jobs, a busy target is not scanned twice, and the CLI sets and clears them."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from cli.main import app
from core.audit.models import AuditEntry
from core.database import unit_of_work
from core.jobs import NoArgs
from core.jobs.models import JobRun
from core.kms.provider import get_key_provider
from core.settings import Settings, get_settings
from scanners.jobs import schedule_due
from scanners.models import Scan, ScanTarget
from scanners.runner import start_scan, start_scheduled_scans
from scanners.targets import add_target, claim_slot, find, set_schedule

runner = CliRunner()
URL = "http://127.0.0.1:9/"  # never fetched: these tests start scans, workers do not run them


@pytest.fixture(autouse=True)
def scan_settings(settings: Settings) -> None:
    get_settings.cache_clear()
    get_key_provider().ensure_keys()


def _scans(name: str) -> list[Scan]:
    with unit_of_work(read_only=True) as session:
        target = find(session, name)
        rows = list(session.scalars(select(Scan).where(Scan.target_id == target.id)))
        for row in rows:
            session.expunge(row)
        return rows


def _events(event_type: str) -> list[AuditEntry]:
    with unit_of_work(read_only=True) as session:
        rows = list(session.scalars(select(AuditEntry).where(AuditEntry.event_type == event_type)))
        for row in rows:
            session.expunge(row)
        return rows


def _set_last(name: str, moment: datetime | None) -> None:
    with unit_of_work() as session:
        session.execute(
            update(ScanTarget).where(ScanTarget.name == name).values(last_scheduled_at=moment)
        )


def test_a_due_target_gets_exactly_one_scan_when_the_job_runs_twice_at_once() -> None:
    with unit_of_work() as session:
        add_target(session, name="due", url=URL, schedule="P1D", actor="t")
        add_target(session, name="unscheduled", url=URL, actor="t")
    barrier = threading.Barrier(2)
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            with unit_of_work() as session:
                result = schedule_due(session, NoArgs())
                assert result is not None
                results.append(dict(result))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(r["started"] for r in results) == [0, 1]
    scans = _scans("due")
    assert len(scans) == 1
    assert scans[0].status == "queued" and scans[0].engine == "builtin"
    assert scans[0].triggered_by == "system:scanners.schedule_due"
    assert _scans("unscheduled") == []
    with unit_of_work(read_only=True) as session:
        run = session.get(JobRun, scans[0].job_run_id)
        assert run is not None and run.job_name == "scanners.scan"
        assert find(session, "due").last_scheduled_at is not None
    [event] = _events("scanners.scan_scheduled")
    assert event.resource == f"scan:{scans[0].id}"
    # Run again straight away: the slot is taken, nothing new starts.
    with unit_of_work() as session:
        assert start_scheduled_scans(session) == []
    assert len(_scans("due")) == 1


def test_a_stale_reader_cannot_claim_a_slot_another_worker_took() -> None:
    with unit_of_work() as session:
        add_target(session, name="raced", url=URL, schedule="P7D", actor="t")
    slot = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    with unit_of_work() as session:
        stale = find(session, "raced")
        assert stale.last_scheduled_at is None
        # Another worker's compare-and-set lands after this one read the row.
        session.execute(
            update(ScanTarget)
            .where(ScanTarget.id == stale.id)
            .values(last_scheduled_at=slot)
            .execution_options(synchronize_session=False)
        )
        assert stale.last_scheduled_at is None  # still what this worker saw
        assert claim_slot(session, stale, slot + timedelta(seconds=1)) is False
    with unit_of_work(read_only=True) as session:
        assert find(session, "raced").last_scheduled_at == slot


def test_a_target_that_is_not_due_gets_no_scan_and_a_duration_keeps_its_cadence() -> None:
    now = datetime(2026, 12, 7, 12, 0, 30, tzinfo=UTC)
    with unit_of_work() as session:
        add_target(session, name="weekly", url=URL, schedule="P7D", actor="t")
    last = now - timedelta(days=6, hours=23)
    _set_last("weekly", last)
    with unit_of_work() as session:
        assert start_scheduled_scans(session, now) == []
    assert _scans("weekly") == []
    # One hour later the week is up: one scan, and the next week counts from the due slot.
    later = now + timedelta(hours=1)
    with unit_of_work() as session:
        [scan] = start_scheduled_scans(session, later)
        assert find(session, "weekly").last_scheduled_at == last + timedelta(days=7)
        scan_id = scan.id
    # A target months behind gets one scan now, not a backlog.
    with unit_of_work() as session:
        session.execute(update(Scan).where(Scan.id == scan_id).values(status="complete"))
    _set_last("weekly", now - timedelta(days=90))
    with unit_of_work() as session:
        assert len(start_scheduled_scans(session, later)) == 1
        assert find(session, "weekly").last_scheduled_at == later.replace(microsecond=0)
    assert len(_scans("weekly")) == 2


def test_cron_schedules_fire_at_their_next_slot_only() -> None:
    with unit_of_work() as session:
        add_target(session, name="nightly", url=URL, schedule="0 3 * * *", actor="t")
        origin = find(session, "nightly").last_scheduled_at
        assert origin is not None  # cron: slots before the schedule was set do not count
    with unit_of_work() as session:
        assert start_scheduled_scans(session, origin + timedelta(seconds=30)) == []
    next_slot = (origin + timedelta(days=1)).replace(hour=3, minute=0, second=0)
    if next_slot - origin > timedelta(days=1):
        next_slot -= timedelta(days=1)
    with unit_of_work() as session:
        assert start_scheduled_scans(session, next_slot - timedelta(seconds=1)) == []
        [scan] = start_scheduled_scans(session, next_slot + timedelta(seconds=20))
        assert find(session, "nightly").last_scheduled_at == next_slot
        scan.status = "complete"
    with unit_of_work() as session:
        assert start_scheduled_scans(session, next_slot + timedelta(hours=5)) == []


def test_a_target_whose_scan_is_still_running_is_not_scanned_twice() -> None:
    with unit_of_work() as session:
        add_target(session, name="busy", url=URL, schedule="P1D", actor="t")
        start_scan(session, "busy", "builtin", actor="t")
    with unit_of_work() as session:
        assert start_scheduled_scans(session) == []
        assert find(session, "busy").last_scheduled_at is not None  # the slot is consumed
    assert len(_scans("busy")) == 1
    [skipped] = _events("scanners.scheduled_scan_skipped")
    assert skipped.resource == "scan_target:busy"


def test_turning_a_schedule_off_stops_scheduled_scans() -> None:
    with unit_of_work() as session:
        add_target(session, name="stopped", url=URL, schedule="P1D", actor="t")
        set_schedule(session, "stopped", "off", actor="t")
    with unit_of_work() as session:
        assert start_scheduled_scans(session) == []
    assert _scans("stopped") == []


def _cli(*args: str) -> Any:
    result = runner.invoke(app, ["scan", "target", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_cli_sets_shows_and_clears_a_schedule() -> None:
    added = _cli("add", URL, "--name", "shop", "--schedule", "P7D", "--scan-engine", "wapiti")
    assert added["schedule"] == "P7D" and added["engine"] == "wapiti"
    assert added["last_scheduled_at"] is None
    changed = _cli("schedule", "shop", "0 4 * * 1")
    assert changed["schedule"] == "0 4 * * 1" and changed["engine"] == "wapiti"
    assert _cli("show", "shop")["schedule"] == "0 4 * * 1"
    assert _cli("schedule", "shop", "off")["schedule"] is None
    [event, *_] = _events("scanners.target_scheduled")
    assert event.resource == "scan_target:shop"


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("P0D", "ISO 8601 duration"),
        ("PT5M", "ISO 8601 duration"),
        ("61 * * * *", "invalid cron expression"),
        ("every day", "neither an ISO 8601 duration"),
    ],
)
def test_cli_refuses_a_bad_schedule_in_one_line(schedule: str, message: str) -> None:
    result = runner.invoke(app, ["scan", "target", "add", URL, "--name", "bad",
                                 "--schedule", schedule])  # fmt: skip
    assert result.exit_code != 0
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    with unit_of_work(read_only=True) as session:
        assert session.scalars(select(ScanTarget).where(ScanTarget.name == "bad")).first() is None


def test_cli_refuses_an_unknown_engine() -> None:
    result = runner.invoke(app, ["scan", "target", "add", URL, "--name", "x",
                                 "--schedule", "P1D", "--scan-engine", "nmap"])  # fmt: skip
    assert result.exit_code != 0 and "unknown engine 'nmap'" in result.stderr
