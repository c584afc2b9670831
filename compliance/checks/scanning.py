"""Checks fed by the scanners (``scanners/``): every registered target was scanned to completion
within PCI DSS 11.3.1's frequency, and no active finding is past its SLA due date (6.3.1, and
11.3.1's "high-risk and critical vulnerabilities are resolved").

Both only read. Listing findings through ``scanners.findings`` first re-opens expired accepted
risks (an audited write); a read check must not write, so here an acceptance whose expiry has
passed simply counts as active, which is what ``expire_acceptances`` would make it. The rows
judged overdue are those of :func:`scanners.findings.past_sla` (a test holds the two equal).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from compliance.checks.base import CheckContext, CheckResult, check
from compliance.config import ComplianceConfig
from compliance.controls import Frequency
from core.settings import Settings
from scanners.findings import ACTIVE
from scanners.models import Finding, Scan, ScanTarget

SCAN_CONTROL = "pci-dss-4.0.1:11.3.1"
DEFAULT_SCAN_EVERY = Frequency(3, "M")  # 11.3.1: at least once every three months
MAX_LISTED = 100  # overdue findings named in the evidence; the count is always exact


def scan_cadence(settings: Settings) -> Frequency:
    """The 11.3.1 control's frequency in the configured library; three months without it."""
    try:
        return ComplianceConfig.from_env(settings).library().control(SCAN_CONTROL)[1].cadence
    except KeyError:
        return DEFAULT_SCAN_EVERY


def last_complete_scans(session: Session) -> dict[str, Scan | None]:
    """Each registered target's newest complete scan (``None`` for a target never scanned)."""
    latest: dict[str, Scan | None] = {}
    for target in session.scalars(select(ScanTarget).order_by(ScanTarget.name)):
        latest[target.name] = session.scalars(
            select(Scan)
            .where(
                Scan.target_id == target.id,
                Scan.status == "complete",
                Scan.finished_at.is_not(None),
            )
            .order_by(Scan.finished_at.desc())
            .limit(1)
        ).first()
    return latest


@check(
    "scanning.recent_scan",
    title="Every registered scan target had a complete scan within 11.3.1's frequency (3 months)",
    controls=[SCAN_CONTROL, "pci-dss-4.0.1:6.4.1"],
)
def recent_scan(ctx: CheckContext) -> CheckResult:
    every = scan_cadence(ctx.settings)
    expected = {"every_target_scanned_within": str(every), "stale_targets": []}
    latest = last_complete_scans(ctx.session)
    if not latest:
        return CheckResult(
            "fail",
            {"targets": {}, "stale_targets": []},
            expected,
            "no scan targets registered: register the shop's public URLs with "
            "`rampart scan target add` and scan them",
        )
    observed: dict[str, Any] = {}
    stale: list[str] = []
    for name, scan in latest.items():
        finished = scan.finished_at if scan is not None else None
        if scan is None or finished is None:
            observed[name] = {"last_complete_scan": None, "engine": None, "scan_id": None}
            stale.append(name)
            continue
        observed[name] = {
            "last_complete_scan": finished.isoformat(),
            "engine": scan.engine,
            "scan_id": str(scan.id),
        }
        if every.expires(finished) <= ctx.now:
            stale.append(name)
    detail = ""
    if stale:
        detail = f"no complete scan within {every} of: {', '.join(stale)}"
    return CheckResult.judge(
        not stale, {"targets": observed, "stale_targets": stale}, expected, detail
    )


def overdue_findings(session: Session, now: datetime) -> list[tuple[Finding, str]]:
    """Active findings past their SLA due date, with their target's name, oldest due first;
    an accepted risk whose acceptance expired counts as active (see the module's docstring)."""
    active = or_(
        Finding.status.in_(list(ACTIVE)),
        and_(Finding.status == "accepted", Finding.accepted_until <= now),
    )
    rows = session.execute(
        select(Finding, ScanTarget.name)
        .join(ScanTarget, ScanTarget.id == Finding.target_id)
        .where(active, Finding.sla_due_at < now)
        .order_by(Finding.sla_due_at, Finding.id)
    )
    return [(finding, name) for finding, name in rows]


@check(
    "scanning.findings_within_sla",
    title="No active scan finding (new or open) is past its SLA due date",
    controls=["pci-dss-4.0.1:6.3.1", SCAN_CONTROL],
)
def findings_within_sla(ctx: CheckContext) -> CheckResult:
    expected = {"overdue_count": 0}
    scanned = ctx.session.scalars(select(Scan.id).where(Scan.status == "complete").limit(1)).first()
    if scanned is None:
        return CheckResult(
            "fail",
            {"overdue_count": 0, "overdue": []},
            expected,
            "no complete scan of any registered target: no vulnerabilities were looked for",
        )
    overdue = overdue_findings(ctx.session, ctx.now)
    # Ids, rules and targets only: a finding's URL and evidence stay in the scanners' tables.
    listed = [
        {
            "id": str(finding.id),
            "target": target,
            "rule": finding.rule,
            "risk": finding.risk,
            "status": finding.status,
            "sla_due_at": finding.sla_due_at.isoformat(),
        }
        for finding, target in overdue[:MAX_LISTED]
    ]
    detail = ""
    if overdue:
        detail = (
            f"{len(overdue)} active finding(s) past their SLA due date, the oldest due "
            f"{overdue[0][0].sla_due_at:%Y-%m-%d}"
        )
    return CheckResult.judge(
        not overdue, {"overdue_count": len(overdue), "overdue": listed}, expected, detail
    )
