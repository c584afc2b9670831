"""Findings: a scan's observations normalised, deduplicated by (target, fingerprint) and tracked
through their lifecycle. Every transition is an audit event (no evidence in it).

    new ──(seen by a later scan)──► open ──(absent from a later complete scan)──► fixed
     │                                │                                              │
     └───────────► accepted (reason, approver, expiry) ◄┘      fixed ──(seen again)──► open
    new/open/fixed ──► false_positive (stays so, whatever later scans see)

- A finding is ``new`` on its first sighting and ``open`` from the second (DefectDojo's
  "active, verified by a rescan"); both count against the gate and the SLA.
- Only a complete scan by the finding's own engine (the one that first reported it) can fix it:
  a built-in passive scan cannot see an injection and must not close a wapiti finding.
- An accepted risk whose expiry passed is ``open`` again (:func:`expire_acceptances`, run by
  every ingest, every listing and daily by the ``scanners.expire_acceptances`` job).
- SLA: ``first_seen_at`` + RAMPART_SCAN_SLA_<RISK>_DAYS; info findings get the low-risk SLA.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.service import record_event
from core.clock import utcnow
from core.settings import get_settings
from scanners.engines.base import Observation
from scanners.exceptions import FindingNotFound, TransitionRefused
from scanners.models import Finding, Scan, ScanTarget
from scanners.normalise import NormalisedFinding, normalise
from scanners.rules import risk_rank

ACTIVE = ("new", "open")
STATUSES = ("new", "open", "fixed", "accepted", "false_positive")


def sla_days(risk: str) -> int:
    settings = get_settings()
    return {
        "critical": settings.scan_sla_critical_days,
        "high": settings.scan_sla_high_days,
        "medium": settings.scan_sla_medium_days,
    }.get(risk, settings.scan_sla_low_days)


def describe(finding: Finding) -> dict[str, Any]:
    return {
        "id": str(finding.id),
        "fingerprint": finding.fingerprint,
        "engine": finding.engine,
        "rule": finding.rule,
        "title": finding.title,
        "cwe": finding.cwe,
        "zap_plugin_id": finding.zap_plugin_id,
        "risk": finding.risk,
        "confidence": finding.confidence,
        "url_template": finding.url_template,
        "url": finding.url,
        "parameter": finding.parameter,
        "method": finding.method,
        "evidence": finding.evidence,
        "status": finding.status,
        "first_seen_at": finding.first_seen_at.isoformat(),
        "last_seen_at": finding.last_seen_at.isoformat(),
        "sla_due_at": finding.sla_due_at.isoformat(),
        "fixed_at": finding.fixed_at.isoformat() if finding.fixed_at else None,
        "reason": finding.reason,
        "approver": finding.approver,
        "accepted_until": finding.accepted_until.isoformat() if finding.accepted_until else None,
    }


def _audit(
    session: Session, finding: Finding, before: str | None, *, actor: str | None,
    **extra: Any,
) -> None:  # fmt: skip
    record_event(
        session,
        event_type="scanners.finding_transition",
        resource=f"scan_finding:{finding.id}",
        details={
            "target_id": str(finding.target_id),
            "rule": finding.rule,
            "risk": finding.risk,
            "from": before,
            "to": finding.status,
            **extra,
        },
        actor=actor,
    )


@dataclass(frozen=True, slots=True)
class IngestResult:
    new: int
    reopened: int
    fixed: int
    seen: int  # distinct fingerprints this scan observed


def ingest(
    session: Session,
    scan: Scan,
    observations: Iterable[Observation],
    *,
    complete: bool = True,
    now: datetime | None = None,
) -> IngestResult:
    """Upsert a scan's observations; when ``complete``, fix what this engine no longer sees."""
    now = now or utcnow()
    actor = f"scan:{scan.id}"
    expire_acceptances(session, now=now)
    seen: dict[str, NormalisedFinding] = {}
    for observation in observations:
        item = normalise(str(scan.target_id), observation)
        kept = seen.get(item.fingerprint)
        if kept is None or risk_rank(item.risk) > risk_rank(kept.risk):
            seen[item.fingerprint] = item
    existing = {
        f.fingerprint: f
        for f in session.scalars(select(Finding).where(Finding.target_id == scan.target_id))
    }
    new = reopened = fixed = 0
    for fp, item in seen.items():
        finding = existing.get(fp)
        if finding is None:
            finding = Finding(
                target_id=scan.target_id,
                fingerprint=fp,
                engine=scan.engine,
                rule=item.rule.key,
                title=item.rule.title,
                cwe=item.rule.cwe,
                zap_plugin_id=item.rule.zap_plugin_id,
                risk=item.risk,
                confidence=item.confidence,
                url_template=item.url_template,
                url=item.url,
                parameter=item.parameter,
                method=item.method,
                evidence=item.evidence,
                status="new",
                first_seen_at=now,
                last_seen_at=now,
                last_scan_id=scan.id,
                sla_due_at=now + timedelta(days=sla_days(item.risk)),
            )
            session.add(finding)
            session.flush()
            _audit(session, finding, None, actor=actor, scan_id=str(scan.id))
            new += 1
            continue
        before = finding.status
        finding.last_seen_at, finding.last_scan_id = now, scan.id
        finding.url, finding.evidence, finding.confidence = item.url, item.evidence, item.confidence
        if before == "new":
            finding.status = "open"
        elif before == "fixed":
            finding.status, finding.fixed_at = "open", None
            reopened += 1
        if finding.status != before:
            _audit(session, finding, before, actor=actor, scan_id=str(scan.id))
    if complete:
        for fp, finding in existing.items():
            if fp in seen or finding.engine != scan.engine:
                continue
            if finding.status in (*ACTIVE, "accepted"):
                before = finding.status
                finding.status, finding.fixed_at = "fixed", now
                _audit(session, finding, before, actor=actor, scan_id=str(scan.id))
                fixed += 1
    scan.observed = json.dumps(sorted(seen))
    scan.findings = len(seen)
    session.flush()
    return IngestResult(new=new, reopened=reopened, fixed=fixed, seen=len(seen))


def expire_acceptances(session: Session, *, now: datetime | None = None) -> int:
    """Accepted risks past their expiry become open again (audited); returns how many."""
    now = now or utcnow()
    rows = session.scalars(
        select(Finding).where(Finding.status == "accepted", Finding.accepted_until <= now)
    ).all()
    for finding in rows:
        finding.status = "open"
        _audit(session, finding, "accepted", actor="system", reason="acceptance expired")
    session.flush()
    return len(rows)


def get_finding(session: Session, finding_id: UUID | str) -> Finding:
    try:
        key = finding_id if isinstance(finding_id, UUID) else UUID(str(finding_id))
    except ValueError:
        raise FindingNotFound("no finding with that id") from None
    finding = session.get(Finding, key)
    if finding is None:
        raise FindingNotFound("no finding with that id")
    return finding


def list_findings(
    session: Session,
    target: ScanTarget,
    *,
    statuses: Sequence[str] = ACTIVE,
    min_risk: str = "info",
) -> list[Finding]:
    expire_acceptances(session)
    query = select(Finding).where(Finding.target_id == target.id)
    if statuses:
        query = query.where(Finding.status.in_(list(statuses)))
    rows = session.scalars(query).all()
    rows = [f for f in rows if risk_rank(f.risk) >= risk_rank(min_risk)]
    return sorted(rows, key=lambda f: (-risk_rank(f.risk), f.rule, f.url_template))


def accept_risk(
    session: Session,
    finding_id: UUID | str,
    *,
    reason: str,
    approver: str,
    until: datetime,
    actor: str,
    now: datetime | None = None,
) -> Finding:
    """Accept an active finding's risk until ``until`` (at most a year, PCI DSS asks yearly)."""
    now = now or utcnow()
    finding = get_finding(session, finding_id)
    if finding.status not in ACTIVE:
        raise TransitionRefused(f"a {finding.status} finding cannot be accepted")
    reason = reason.strip()
    if not reason or len(reason) > 2000:
        raise TransitionRefused("an accepted risk needs a reason of 1 to 2000 characters")
    if not approver.strip():
        raise TransitionRefused("an accepted risk needs an approver")
    if until <= now or until > now + timedelta(days=366):
        raise TransitionRefused("an acceptance expires in the future and within a year")
    before = finding.status
    finding.status, finding.reason = "accepted", reason
    finding.approver, finding.accepted_until = approver.strip()[:255], until
    session.flush()
    _audit(session, finding, before, actor=actor, approver=finding.approver,
           accepted_until=until.isoformat())  # fmt: skip
    return finding


def mark_false_positive(
    session: Session, finding_id: UUID | str, *, reason: str, actor: str
) -> Finding:
    finding = get_finding(session, finding_id)
    if finding.status == "false_positive":
        raise TransitionRefused("the finding is a false positive already")
    reason = reason.strip()
    if not reason or len(reason) > 2000:
        raise TransitionRefused("a false positive needs a reason of 1 to 2000 characters")
    before = finding.status
    finding.status, finding.reason = "false_positive", reason
    finding.approver, finding.accepted_until = actor[:255], None
    session.flush()
    _audit(session, finding, before, actor=actor)
    return finding


def past_sla(session: Session, *, now: datetime | None = None) -> list[Finding]:
    """Active findings (new, open) whose SLA due date has passed, every target."""
    now = now or utcnow()
    expire_acceptances(session, now=now)
    return list(
        session.scalars(
            select(Finding).where(Finding.status.in_(list(ACTIVE)), Finding.sla_due_at < now)
        )
    )
