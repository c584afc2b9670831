"""`rampart compliance`: the `run --json` shape, `--fail-on`, waivers and a failing `verify`."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from cli.main import app
from compliance.checks.base import RegisteredCheck
from compliance.engine import EngineDeps
from core.database import unit_of_work
from core.settings import get_settings
from tests.compliance.conftest import FIXTURES

runner = CliRunner()


@pytest.fixture(autouse=True)
def fixture_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAMPART_COMPLIANCE_LIBRARY", str(FIXTURES / "library"))
    get_settings.cache_clear()  # settings are read once per process


def test_run_json_prints_exactly_the_documented_shape(
    deps: EngineDeps, standard_checks: dict[str, RegisteredCheck]
) -> None:
    result = runner.invoke(app, ["compliance", "run", "--framework", "test-fw", "--json"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""  # no progress bar with --json
    document = json.loads(result.stdout)
    assert list(document) == ["results"]
    by_check = {item["check"]: item for item in document["results"]}
    assert set(by_check) == {"tests.passes", "tests.fails"}
    for item in document["results"]:
        assert list(item) == ["check", "controls", "status", "observed", "expected", "evidence_id"]
    assert by_check["tests.fails"] == {
        "check": "tests.fails",
        "controls": ["test-fw:1.2"],
        "status": "fail",
        "observed": {"mfa": False},
        "expected": {"mfa": True},
        "evidence_id": by_check["tests.fails"]["evidence_id"],
    }
    history = runner.invoke(app, ["compliance", "history", "--control", "test-fw:1.2", "--json"])
    (record,) = json.loads(history.stdout)["evidence"]
    assert record["id"] == by_check["tests.fails"]["evidence_id"]


def test_fail_on_failing_exits_non_zero_only_when_a_control_fails(
    deps: EngineDeps, standard_checks: dict[str, RegisteredCheck]
) -> None:
    failing = runner.invoke(
        app, ["compliance", "run", "--control", "test-fw:1.2", "--fail-on", "failing", "--json"]
    )
    assert failing.exit_code == 1
    passing = runner.invoke(
        app, ["compliance", "run", "--control", "test-fw:1.1", "--fail-on", "failing", "--json"]
    )
    assert passing.exit_code == 0


def test_a_waived_control_no_longer_fails_the_pipeline(
    deps: EngineDeps, standard_checks: dict[str, RegisteredCheck]
) -> None:
    waived = runner.invoke(
        app,
        ["compliance", "waive", "test-fw:1.2", "--reason", "rollout", "--approver", "ciso",
         "--expires", "P7D", "--json"],
    )  # fmt: skip
    assert waived.exit_code == 0, waived.stderr
    assert json.loads(waived.stdout)["approver"] == "ciso"
    result = runner.invoke(
        app, ["compliance", "run", "--control", "test-fw:1.2", "--fail-on", "failing", "--json"]
    )
    assert result.exit_code == 0
    status = json.loads(runner.invoke(app, ["compliance", "status", "--json"]).stdout)
    assert {c["control"]: c["status"] for c in status["controls"]}["test-fw:1.2"] == "waived"


def test_a_waiver_without_a_reason_is_one_line_on_stderr(deps: EngineDeps) -> None:
    result = runner.invoke(app, ["compliance", "waive", "test-fw:1.2", "--approver", "ciso"])
    assert result.exit_code == 1
    assert result.stderr == "error: a waiver needs a reason and an approver\n"


def test_verify_fails_after_one_byte_of_a_record_changed(
    deps: EngineDeps, standard_checks: dict[str, RegisteredCheck]
) -> None:
    runner.invoke(app, ["compliance", "run", "--framework", "test-fw", "--json"])
    assert runner.invoke(app, ["compliance", "verify"]).exit_code == 0
    with unit_of_work(deps.sessions) as session:
        session.execute(
            text("UPDATE compliance_evidence SET observed = :forged WHERE status = 'fail'"),
            {"forged": '{"mfa":true}'},
        )
    result = runner.invoke(app, ["compliance", "verify", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["checked"] == 2
    # digest, signature and ledger entry (which carries the original digest) all disagree
    assert len(report["problems"]) == 3
    assert len({problem.split(":")[0] for problem in report["problems"]}) == 1
