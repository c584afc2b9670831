"""The engine runs checks with timeouts and records each result as signed, ledgered evidence."""

from __future__ import annotations

import threading
import time

import orjson
from sqlalchemy import select

from compliance.checks.base import CheckContext, CheckResult, RegisteredCheck
from compliance.controls import ControlLibrary
from compliance.engine import EngineDeps, Scope, run, select_checks
from compliance.evidence import EVIDENCE_EVENT
from compliance.models import CheckRun, EvidenceRecord
from core.audit.models import AuditEntry
from core.database import unit_of_work
from tests.compliance.conftest import Register


def test_a_hanging_check_becomes_an_error_within_its_timeout(
    deps: EngineDeps, library: ControlLibrary, register: Register
) -> None:
    release = threading.Event()

    def hangs(ctx: CheckContext) -> CheckResult:
        release.wait(30)
        return CheckResult.judge(True, 1, 1)

    check = register("tests.hangs", hangs, ("test-fw:1.1",), timeout=0.5)
    started = time.monotonic()
    try:
        (result,) = run(deps, library, checks=[check])
    finally:
        release.set()
    assert time.monotonic() - started < 5
    assert result.status == "error"
    assert "timeout of 0.5 s" in result.detail


def test_a_crashing_check_becomes_an_error_with_a_safe_detail_and_the_run_goes_on(
    deps: EngineDeps, library: ControlLibrary, register: Register
) -> None:
    def crashes(ctx: CheckContext) -> CheckResult:
        raise RuntimeError("postgresql://admin:hunter2@db/prod is down")

    checks = [
        register("tests.crashes", crashes, ("test-fw:1.1",)),
        register("tests.after", lambda ctx: CheckResult.judge(True, 1, 1), ("test-fw:1.1",)),
    ]
    crashed, after = run(deps, library, checks=checks)
    assert crashed.status == "error"
    assert crashed.detail == "check raised RuntimeError"
    assert after.status == "pass"


def test_each_result_is_evidence_linked_to_its_ledger_entry(
    deps: EngineDeps, library: ControlLibrary, standard_checks: dict[str, RegisteredCheck]
) -> None:
    results = run(deps, library, Scope(framework="test-fw"), triggered_by="user:officer")
    assert [(r.check, r.status) for r in results] == [
        ("tests.fails", "fail"),
        ("tests.passes", "pass"),
    ]
    with unit_of_work(deps.sessions) as session:
        for result in results:
            record = session.get(EvidenceRecord, result.evidence_id)
            assert record is not None
            entry = session.get(AuditEntry, record.audit_seq)
            assert entry is not None and entry.event_type == EVIDENCE_EVENT
            details = orjson.loads(entry.details)
            assert details["evidence_id"] == str(record.id)
            assert details["sha256"] == record.digest
            assert record.check_version == standard_checks[result.check].version
            assert orjson.loads(record.control_ids) == list(result.controls)
        check_run = session.scalars(select(CheckRun)).one()
        assert (check_run.scope, check_run.results, check_run.failures) == ("test-fw", 2, 1)
        assert check_run.triggered_by == "user:officer"


def test_card_numbers_observed_by_a_check_never_reach_the_evidence(
    deps: EngineDeps, library: ControlLibrary, register: Register
) -> None:
    check = register(
        "tests.luhn",
        lambda ctx: CheckResult.judge(
            False, {"hits": ["row 3: 4111111111111111"], "raw": 4111111111111111}, []
        ),
        ("test-fw:1.1",),
    )
    (result,) = run(deps, library, checks=[check])
    with unit_of_work(deps.sessions) as session:
        record = session.get(EvidenceRecord, result.evidence_id)
        assert record is not None
        assert "4111111111111111" not in record.observed
    assert "4111111111111111" not in str(result.observed)


def test_scopes_select_the_checks_of_their_controls(
    library: ControlLibrary, standard_checks: dict[str, RegisteredCheck]
) -> None:
    by_control = select_checks(library, Scope(control="test-fw:1.2"))
    assert [c.id for c in by_control] == ["tests.fails"]
    by_framework = select_checks(library, Scope(framework="test-fw"))
    assert [c.id for c in by_framework] == ["tests.fails", "tests.passes"]
