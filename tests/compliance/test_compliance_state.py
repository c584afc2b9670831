"""The engine's own checks: evidence integrity (10.3.2) and access-review age (7.2.4)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text

from compliance.checks import load_all
from compliance.controls import ControlLibrary
from compliance.engine import EngineDeps, run
from compliance.reviews_models import AccessReview
from core.clock import utcnow
from core.database import unit_of_work


def _run(deps: EngineDeps, library: ControlLibrary, check_id: str) -> tuple[str, object]:
    (result,) = run(deps, library, checks=[load_all()[check_id]])
    return result.status, result.observed


def test_evidence_intact_fails_once_a_record_is_tampered(
    deps: EngineDeps, library: ControlLibrary
) -> None:
    assert _run(deps, library, "compliance.evidence_intact") == (
        "pass", {"records": 0, "problems": 0}
    )  # fmt: skip
    with unit_of_work(deps.sessions) as session:
        session.execute(text("UPDATE compliance_evidence SET detail = 'edited'"))
    status, observed = _run(deps, library, "compliance.evidence_intact")
    assert status == "fail" and observed == {"records": 1, "problems": 3}


def test_access_review_age_needs_a_signed_off_review_younger_than_six_months(
    deps: EngineDeps, library: ControlLibrary
) -> None:
    assert _run(deps, library, "compliance.access_review_age")[0] == "fail"
    with unit_of_work(deps.sessions) as session:
        session.add(_review(opened=utcnow() - timedelta(days=2), signed_off=None))
        session.add(
            _review(
                opened=utcnow() - timedelta(days=220), signed_off=utcnow() - timedelta(days=200)
            )
        )
    # an open review does not count, nor one signed off 200 days ago
    assert _run(deps, library, "compliance.access_review_age")[0] == "fail"
    with unit_of_work(deps.sessions) as session:
        session.add(
            _review(opened=utcnow() - timedelta(days=12), signed_off=utcnow() - timedelta(days=10))
        )
    assert _run(deps, library, "compliance.access_review_age")[0] == "pass"


def _review(*, opened: datetime, signed_off: datetime | None) -> AccessReview:
    return AccessReview(
        control_id="pci-dss-4.0.1:7.2.4",
        reviewer="role:compliance_officer",
        policy_version=1,
        opened_by="user:officer",
        opened_at=opened,
        signed_off_by="user:officer" if signed_off else None,
        signed_off_at=signed_off,
    )
