"""Checks of the compliance engine's own state: its evidence is intact, and the newest signed-off
access review (compliance/reviews.py) is younger than the 7.2.4 control's frequency."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.checks.base import CheckContext, CheckResult, check
from compliance.config import ComplianceConfig
from compliance.controls import ControlLibrary, Frequency
from compliance.reviews_models import AccessReview
from compliance.verification import verify_evidence
from core.kms.provider import get_key_provider

ACCESS_REVIEW_CONTROL = "pci-dss-4.0.1:7.2.4"
ACCESS_REVIEW_CHECK = "compliance.access_review_age"
DEFAULT_REVIEW_EVERY = Frequency(6, "M")


@check(
    "compliance.evidence_intact",
    title="Stored compliance evidence verifies (signatures, digests, ledger links)",
    controls=["pci-dss-4.0.1:10.3.2"],
    timeout_seconds=60.0,
)
def evidence_intact(ctx: CheckContext) -> CheckResult:
    report = verify_evidence(ctx.session, [get_key_provider().public_signing_key()])
    return CheckResult.judge(
        report.ok,
        {"records": report.checked, "problems": len(report.problems)},
        {"problems": 0},
        "; ".join(report.problems[:5]),
    )


def review_cadence(library: ControlLibrary) -> Frequency:
    """The 7.2.4 control's frequency in ``library``; six months when it lacks the control."""
    try:
        return library.control(ACCESS_REVIEW_CONTROL)[1].cadence
    except KeyError:
        return DEFAULT_REVIEW_EVERY


def review_age(session: Session, now: datetime, every: Frequency) -> CheckResult:
    """Pass while the newest signed-off access review is younger than ``every``."""
    latest = session.scalars(
        select(AccessReview)
        .where(AccessReview.signed_off_at.is_not(None))
        .order_by(AccessReview.signed_off_at.desc())
        .limit(1)
    ).first()
    if latest is None or latest.signed_off_at is None:
        return CheckResult("fail", {"last_review": None}, {"max_age": str(every)})
    return CheckResult.judge(
        every.expires(latest.signed_off_at) > now,
        {"last_review": latest.signed_off_at.isoformat(), "review_id": str(latest.id)},
        {"max_age": str(every)},
    )


@check(
    ACCESS_REVIEW_CHECK,
    title="The latest signed-off access review is younger than the control's frequency",
    controls=[ACCESS_REVIEW_CONTROL],
)
def access_review_age(ctx: CheckContext) -> CheckResult:
    return review_age(ctx.session, ctx.now, review_cadence(ComplianceConfig.from_env().library()))
