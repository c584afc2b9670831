"""Remediations of failing controls: proposed after a run, run once (automatically or after an
officer's approval) by the real job, audited with before/after, rolled back on failure."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from cli.main import app
from compliance.controls import ControlLibrary, default_library, load_library
from compliance.engine import EngineDeps, Scope, run
from compliance.exceptions import RemediationFailed
from compliance.models import RemediationRun
from compliance.remediation import execute_remediation
from compliance.remediation_actions import ACTIONS
from core.audit.models import AuditEntry
from core.clock import utcnow
from core.database import unit_of_work
from core.jobs import JobsConfig, JobsRuntime
from core.jobs.models import JobRun
from iam.accounts.models import User
from iam.accounts.service import create_user
from tests.core.jobs.conftest import wait_for
from tests.policies.authz_support import api, authz_settings, bearer

__all__ = ["api", "authz_settings", "bearer"]  # fixtures used by name

runner = CliRunner()
LibraryFactory = Callable[[str], ControlLibrary]
CONTROL = "fix-fw:1.1"


@pytest.fixture
def make_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LibraryFactory:
    """A one-control library whose control (the real inactive-accounts check) names the real
    ``iam.disable_inactive_accounts`` remediation in ``mode``; the CLI and jobs read it too."""

    def build(mode: str) -> ControlLibrary:
        directory = tmp_path / f"library-{mode}"
        directory.mkdir()
        (directory / "fix-fw.yaml").write_text(
            "id: fix-fw\nname: Fix framework\nversion: '1'\npublisher: Rampart tests\n"
            "controls:\n  - id: '1.1'\n    title: No inactive accounts\n"
            "    reference: Test 1.1\n    owner_role: admin\n    frequency: P1D\n"
            "    checks: [iam.inactive_accounts]\n"
            f"    remediation:\n      action: iam.disable_inactive_accounts\n      mode: {mode}\n"
        )
        monkeypatch.setenv("RAMPART_COMPLIANCE_LIBRARY", str(directory))
        return load_library(directory)

    return build


@pytest.fixture
def stale_user(deps: EngineDeps) -> UUID:
    """An active account created 120 days ago that never logged in."""
    with unit_of_work() as session:
        user, _ = create_user(session, "stale.staff@shop.example")
        user.created_at = utcnow() - timedelta(days=120)
        return user.id


@pytest.fixture
def workers(deps: EngineDeps) -> Iterator[JobsRuntime]:
    config = JobsConfig(poll_seconds=0.05, lease_seconds=5.0, max_scheduler_sleep=0.2)
    running = JobsRuntime(config, scheduler=False, workers=True, concurrency=1).start()
    yield running
    running.stop(timeout=5)


def _remediations() -> list[RemediationRun]:
    with unit_of_work() as session:
        return list(session.scalars(select(RemediationRun).order_by(RemediationRun.created_at)))


def _events(prefix: str) -> list[tuple[str, dict[str, Any]]]:
    with unit_of_work() as session:
        rows = session.execute(
            select(AuditEntry.event_type, AuditEntry.details)
            .where(AuditEntry.event_type.like(prefix + "%"))
            .order_by(AuditEntry.seq)
        )
        return [(kind, orjson.loads(details)) for kind, details in rows]


def _status_of(user_id: UUID) -> str:
    with unit_of_work() as session:
        return session.get_one(User, user_id).status


def test_every_remediation_of_the_built_in_library_is_registered() -> None:
    named = {
        control.remediation.action
        for _, control in default_library().controls()
        if control.remediation is not None
    }
    assert named == set(ACTIONS)
    modes = {
        fw.qualified(c): c.remediation.mode
        for fw, c in default_library().controls()
        if c.remediation is not None
    }
    assert modes["pci-dss-4.0.1:8.2.6"] == "auto"
    assert modes["pci-dss-4.0.1:3.7.4"] == modes["pci-dss-4.0.1:3.6.1"] == "approval"


def test_an_auto_remediation_runs_once_on_the_job_with_before_and_after(
    deps: EngineDeps, make_library: LibraryFactory, stale_user: UUID, workers: JobsRuntime
) -> None:
    library = make_library("auto")
    run(deps, library, Scope(control=CONTROL))
    wait_for(lambda: _remediations()[0].status == "succeeded", 20, "the remediation job")
    assert _status_of(stale_user) == "disabled"
    (done,) = _remediations()
    assert orjson.loads(done.control_ids) == [CONTROL] and done.mode == "auto"
    assert orjson.loads(done.before_state or "null")["inactive_accounts"] == [str(stale_user)]
    assert orjson.loads(done.after_state or "null")["inactive_accounts"] == []
    assert orjson.loads(done.outcome or "null") == {
        "nothing_to_do": False,
        "disabled": 1,
        "days": 90,
    }
    kinds = [kind for kind, _ in _events("compliance.remediation.")]
    assert kinds == ["compliance.remediation.proposed", "compliance.remediation.applied"]
    (_, applied), *_ = [e for e in _events("compliance.remediation.applied")]
    assert applied["before"]["inactive_accounts"] == [str(stale_user)]
    assert applied["after"]["inactive_accounts"] == []
    # The control passes now: the next run proposes nothing.
    run(deps, library, Scope(control=CONTROL))
    assert len(_remediations()) == 1


def test_one_open_remediation_per_action_and_a_second_execution_does_nothing(
    deps: EngineDeps, make_library: LibraryFactory, stale_user: UUID
) -> None:
    library = make_library("auto")
    run(deps, library, Scope(control=CONTROL))
    run(deps, library, Scope(control=CONTROL))  # still failing, the first still open
    (queued,) = _remediations()
    assert queued.status == "queued" and queued.open_key == "iam.disable_inactive_accounts"
    with unit_of_work() as session:
        (job,) = session.scalars(select(JobRun).where(JobRun.job_name == "compliance.remediate"))
        assert job.args == {"remediation_id": str(queued.id)}
    first = execute_remediation(deps.sessions, deps.settings, queued.id)
    second = execute_remediation(deps.sessions, deps.settings, queued.id)  # another replica
    assert first.status == second.status == "succeeded"
    assert len(_events("compliance.remediation.applied")) == 1
    assert len(_events("iam.user.disabled")) == 1


def test_an_approval_remediation_waits_for_an_officer_on_the_cli(
    deps: EngineDeps, make_library: LibraryFactory, stale_user: UUID
) -> None:
    library = make_library("approval")
    run(deps, library, Scope(control=CONTROL))
    listed = runner.invoke(
        app, ["compliance", "remediations", "list", "--status", "pending", "--json"]
    )
    assert listed.exit_code == 0, listed.stderr
    (pending,) = json.loads(listed.stdout)["remediations"]
    assert pending["proposed_state"]["inactive_accounts"] == [str(stale_user)]
    assert pending["job_run_id"] is None
    # Pending: nothing runs, even when the job is asked to.
    assert (
        execute_remediation(deps.sessions, deps.settings, UUID(pending["id"])).status == "pending"
    )
    assert _status_of(stale_user) == "active"

    approved = runner.invoke(
        app, ["compliance", "remediations", "approve", pending["id"], "--note", "ok", "--json"]
    )
    assert approved.exit_code == 0, approved.stderr
    decided = json.loads(approved.stdout)
    assert decided["status"] == "approved" and decided["decided_by"].startswith("cli:")
    assert decided["job_run_id"] is not None
    again = runner.invoke(app, ["compliance", "remediations", "approve", pending["id"]])
    assert again.exit_code == 1
    assert again.stderr == f"error: remediation {pending['id']} is approved, not pending\n"

    execute_remediation(deps.sessions, deps.settings, UUID(pending["id"]))
    assert _status_of(stale_user) == "disabled"
    kinds = [kind.rsplit(".", 1)[1] for kind, _ in _events("compliance.remediation.")]
    assert kinds == ["proposed", "approved", "applied"]


def test_a_rejection_needs_a_reason_and_closes_the_remediation(
    deps: EngineDeps, make_library: LibraryFactory, stale_user: UUID
) -> None:
    library = make_library("approval")
    run(deps, library, Scope(control=CONTROL))
    (pending,) = _remediations()
    bare = runner.invoke(app, ["compliance", "remediations", "reject", str(pending.id)])
    assert bare.exit_code == 1 and bare.stderr == "error: a rejection needs a reason\n"
    rejected = runner.invoke(
        app,
        ["compliance", "remediations", "reject", str(pending.id), "--reason", "contractor back"],
    )
    assert rejected.exit_code == 0, rejected.stderr
    (closed,) = _remediations()
    assert (closed.status, closed.open_key, closed.decision_note) == (
        "rejected",
        None,
        "contractor back",
    )
    assert execute_remediation(deps.sessions, deps.settings, closed.id).status == "rejected"
    assert _status_of(stale_user) == "active"
    run(deps, library, Scope(control=CONTROL))  # still failing: proposed again, for a new decision
    assert [row.status for row in _remediations()] == ["rejected", "pending"]


def test_a_failing_remediation_rolls_back_and_is_recorded(
    deps: EngineDeps,
    make_library: LibraryFactory,
    stale_user: UUID,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = ACTIONS["iam.disable_inactive_accounts"]

    def disable_then_break(*args: Any) -> dict[str, Any]:
        real.apply(*args)  # the account is disabled in the transaction...
        raise RuntimeError("the directory refused it at postgres://operator:hunter2@db")

    monkeypatch.setitem(ACTIONS, real.id, replace(real, apply=disable_then_break))
    library = make_library("auto")
    run(deps, library, Scope(control=CONTROL))
    (queued,) = _remediations()
    with pytest.raises(RemediationFailed):
        execute_remediation(deps.sessions, deps.settings, queued.id)
    assert _status_of(stale_user) == "active"  # ...and rolled back with it
    (failed,) = _remediations()
    assert (failed.status, failed.error, failed.open_key) == ("failed", "RuntimeError", None)
    assert _events("iam.user.disabled") == []
    ((_, details),) = _events("compliance.remediation.failed")
    assert details["error"] == "RuntimeError" and "hunter2" not in json.dumps(details)
    assert details["before"]["inactive_accounts"] == [str(stale_user)]


def test_auditors_read_remediations_and_only_officers_decide(
    api: TestClient,
    bearer: Callable[..., dict[str, str]],
    deps: EngineDeps,
    make_library: LibraryFactory,
    stale_user: UUID,
) -> None:
    run(deps, make_library("approval"), Scope(control=CONTROL))
    auditor = bearer("auditor", "g, client:auditor, role:auditor, rampart")
    listing = api.get("/v1/compliance/remediations?status=pending", headers=auditor)
    assert listing.status_code == 200, listing.text
    (item,) = listing.json()["remediations"]
    refused = api.post(
        f"/v1/compliance/remediations/{item['id']}/approve", json={}, headers=auditor
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    officer = bearer("officer", "g, client:officer, role:compliance_officer, rampart")
    approved = api.post(
        f"/v1/compliance/remediations/{item['id']}/approve", json={"note": "go"}, headers=officer
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert approved.json()["decided_by"] == "client:officer"
    twice = api.post(f"/v1/compliance/remediations/{item['id']}/approve", json={}, headers=officer)
    assert twice.status_code == 409
    assert api.get(f"/v1/compliance/remediations/{item['id']}").status_code == 401
