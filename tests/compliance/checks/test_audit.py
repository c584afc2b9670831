"""Audit-ledger checks: verification after tampering, 10.2.2 fields, retention, checkpoints,
failed logins and account changes reaching the ledger, clock agreement."""

from __future__ import annotations

from core.audit.service import record_event
from core.database import get_engine, unit_of_work
from tests.compliance.checks.conftest import ContextFactory, run
from tests.core.audit.conftest import tamper


def _write_events(count: int) -> None:
    with unit_of_work() as db:
        for index in range(count):
            record_event(
                db, event_type="test.event", actor="user:test", origin="127.0.0.1",
                resource=f"thing:{index}", details={"index": index},
            )  # fmt: skip


def test_ledger_verification_passes_and_fails_after_a_changed_byte(
    read_context: ContextFactory,
) -> None:
    _write_events(3)
    result = run("audit.ledger_verification", read_context())
    assert result.status == "pass", result
    assert result.observed["entries"] >= 3
    # Past the append-only triggers, as a database superuser could.
    tamper(get_engine(), "UPDATE audit_entries SET actor = 'user:mallory' WHERE seq = 2")
    tampered = run("audit.ledger_verification", read_context())
    assert tampered.status == "fail"
    assert tampered.observed["first_problem"]["seq"] == 2


def test_entry_fields_pass_and_fail_when_no_entry_records_its_origin(
    read_context: ContextFactory,
) -> None:
    assert run("audit.entry_fields", read_context()).status == "fail"  # an empty ledger: nothing
    _write_events(2)
    assert run("audit.entry_fields", read_context()).status == "pass"
    tamper(get_engine(), "UPDATE audit_entries SET origin = NULL")
    result = run("audit.entry_fields", read_context())
    assert result.status == "fail"
    assert "origin" in result.observed["missing_fields"]


def test_retention_checkpoint_and_access_log_settings(read_context: ContextFactory) -> None:
    for check_id in ("audit.retention", "audit.checkpoint_interval", "audit.access_logging"):
        assert run(check_id, read_context()).status == "pass", check_id
    assert run("audit.retention", read_context(audit_retention_days=180)).status == "fail"
    assert run("audit.retention", read_context(audit_online_days=30)).status == "fail"
    slow = read_context(audit_checkpoint_seconds=86400.0)
    assert run("audit.checkpoint_interval", slow).status == "fail"
    assert run("audit.access_logging", read_context(access_log=False)).status == "fail"


def test_ledger_probes_pass_against_rampart(live_context: ContextFactory) -> None:
    for check_id in (
        "audit.failed_logins_recorded",
        "audit.account_changes_recorded",
        "audit.clock_sync_probe",
    ):
        result = run(check_id, live_context())
        assert result.status == "pass", (check_id, result)


def test_ledger_probes_fail_against_a_shop_that_records_nothing_and_runs_fast(
    live_context: ContextFactory, weak_shop: str
) -> None:
    failed_logins = run("audit.failed_logins_recorded", live_context(url=weak_shop))
    assert failed_logins.status == "fail"
    clock = run("audit.clock_sync_probe", live_context(url=weak_shop))
    assert clock.status == "fail"
    assert clock.observed["skew_seconds"] >= 3590
