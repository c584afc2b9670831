"""Checks of the compliance engine's own state: its evidence is intact, and the access review
(kept as manual evidence until reviews are generated) is younger than six months."""

from __future__ import annotations

from sqlalchemy import select

from compliance.checks.base import CheckContext, CheckResult, check
from compliance.controls import Frequency
from compliance.models import ManualEvidence
from compliance.verification import verify_evidence
from core.kms.provider import get_key_provider

ACCESS_REVIEW_CONTROL = "pci-dss-4.0.1:7.2.4"
_REVIEW_EVERY = Frequency(6, "M")


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


@check(
    "compliance.access_review_age",
    title="The latest access review is younger than six months",
    controls=[ACCESS_REVIEW_CONTROL],
)
def access_review_age(ctx: CheckContext) -> CheckResult:
    latest = ctx.session.scalars(
        select(ManualEvidence)
        .where(ManualEvidence.control_id == ACCESS_REVIEW_CONTROL)
        .order_by(ManualEvidence.uploaded_at.desc())
        .limit(1)
    ).first()
    if latest is None:
        return CheckResult("fail", {"last_review": None}, {"max_age": str(_REVIEW_EVERY)})
    fresh = _REVIEW_EVERY.expires(latest.uploaded_at) > ctx.now
    return CheckResult.judge(
        fresh,
        {"last_review": latest.uploaded_at.isoformat(), "sha256": latest.sha256},
        {"max_age": str(_REVIEW_EVERY)},
    )
