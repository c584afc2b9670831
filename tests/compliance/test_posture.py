"""Control status: failing on a failed check or stale evidence, waived while a waiver counts."""

from __future__ import annotations

from datetime import timedelta

from compliance.checks.base import RegisteredCheck
from compliance.controls import ControlLibrary
from compliance.engine import EngineDeps, Scope, run
from compliance.posture import posture
from compliance.service import grant_waiver, upload_manual_evidence
from core.clock import utcnow
from core.database import unit_of_work


def _statuses(deps: EngineDeps, library: ControlLibrary, **later: float) -> dict[str, str]:
    with unit_of_work(deps.read_sessions, read_only=True) as session:
        now = utcnow() + timedelta(**later)
        return {item.control_id: item.status for item in posture(session, library, now)}


def test_status_follows_the_latest_evidence_of_each_check(
    deps: EngineDeps, library: ControlLibrary, standard_checks: dict[str, RegisteredCheck]
) -> None:
    assert _statuses(deps, library)["test-fw:1.1"] == "failing"  # no evidence yet
    run(deps, library, Scope(framework="test-fw"))
    assert _statuses(deps, library) == {
        "test-fw:1.1": "pass",
        "test-fw:1.2": "failing",
        "test-fw:1.3": "manual-due",
        "test-fw:2.1": "pass",
    }


def test_evidence_older_than_the_frequency_makes_the_control_failing(
    deps: EngineDeps, library: ControlLibrary, standard_checks: dict[str, RegisteredCheck]
) -> None:
    run(deps, library, Scope(framework="test-fw"))
    two_days_on = _statuses(deps, library, days=2)
    assert two_days_on["test-fw:1.1"] == "failing"  # P1D
    assert two_days_on["test-fw:2.1"] == "pass"  # P1M: the same evidence still counts


def test_a_waiver_counts_until_it_expires_by_itself(
    deps: EngineDeps, library: ControlLibrary, standard_checks: dict[str, RegisteredCheck]
) -> None:
    run(deps, library, Scope(framework="test-fw"))
    with unit_of_work(deps.sessions) as session:
        grant_waiver(
            session,
            library,
            control_id="test-fw:1.2",
            reason="MFA rollout in progress",
            approver="ciso",
            expires_at=utcnow() + timedelta(hours=1),
            actor="user:officer",
        )
    assert _statuses(deps, library)["test-fw:1.2"] == "waived"
    assert _statuses(deps, library, hours=2)["test-fw:1.2"] == "failing"


def test_manual_evidence_counts_until_it_is_due(
    deps: EngineDeps, library: ControlLibrary, standard_checks: dict[str, RegisteredCheck]
) -> None:
    with unit_of_work(deps.sessions) as session:
        upload = upload_manual_evidence(
            session,
            library,
            control_id="test-fw:1.3",
            filename="policy.pdf",
            media_type="application/pdf",
            content=b"%PDF-1.7 signed policy",
            owner="ciso",
            actor="user:officer",
        )
        assert len(upload.sha256) == 64
    assert _statuses(deps, library)["test-fw:1.3"] == "pass"
    assert _statuses(deps, library, days=100)["test-fw:1.3"] == "manual-due"  # P3M
