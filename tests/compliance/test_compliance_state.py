"""The engine's own checks: evidence integrity (10.3.2) and access-review age (7.2.4)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from compliance.checks import load_all
from compliance.controls import ControlLibrary
from compliance.engine import EngineDeps, run
from compliance.models import ManualEvidence
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


def test_access_review_age_needs_a_review_younger_than_six_months(
    deps: EngineDeps, library: ControlLibrary
) -> None:
    assert _run(deps, library, "compliance.access_review_age")[0] == "fail"
    with unit_of_work(deps.sessions) as session:
        session.add(
            ManualEvidence(
                control_id="pci-dss-4.0.1:7.2.4",
                filename="review.pdf",
                media_type="application/pdf",
                sha256="0" * 64,
                content=b"review",
                owner="ciso",
                uploaded_by="user:officer",
                uploaded_at=utcnow() - timedelta(days=200),
                due_at=utcnow() - timedelta(days=17),
            )
        )
    assert _run(deps, library, "compliance.access_review_age")[0] == "fail"
    with unit_of_work(deps.sessions) as session:
        session.add(
            ManualEvidence(
                control_id="pci-dss-4.0.1:7.2.4",
                filename="review-2.pdf",
                media_type="application/pdf",
                sha256="1" * 64,
                content=b"review 2",
                owner="ciso",
                uploaded_by="user:officer",
                uploaded_at=utcnow() - timedelta(days=10),
                due_at=utcnow() + timedelta(days=170),
            )
        )
    assert _run(deps, library, "compliance.access_review_age")[0] == "pass"
