"""What every report format shows, computed once: findings as plain, cleaned values (card numbers
masked again, characters XML cannot carry dropped), sorted most serious first, their rules and
the summary counts. Evidence is stored masked; masking it again here is the defence in depth."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version

from core.clock import utcnow
from scanners.models import Finding, Scan, ScanTarget
from scanners.rules import RISKS, RULES, Rule, risk_rank
from vault.proxy.masking import mask_pan_text

STATUSES = ("new", "open", "fixed", "accepted", "false_positive")
ACTIVE = ("new", "open")  # findings that still need work: the ones that gate and count by risk
INFORMATION_URI = "https://rampart.dev/"
# XML 1.0 cannot carry C0 controls other than tab, newline and carriage return (nor U+FFFE/F).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean(text: str | None) -> str:
    """``text`` safe for any report: card numbers masked (last four kept), no control bytes."""
    if not text:
        return ""
    masked, _ = mask_pan_text(text)
    return _NOT_XML.sub("", masked)


@dataclass(frozen=True, slots=True)
class ReportFinding:
    id: str
    fingerprint: str
    engine: str
    rule: str
    title: str
    cwe: int | None
    zap_plugin_id: int | None
    risk: str
    confidence: str
    url_template: str
    url: str
    parameter: str
    method: str
    evidence: str
    status: str
    first_seen_at: datetime
    last_seen_at: datetime
    sla_due_at: datetime
    overdue: bool
    fixed_at: datetime | None
    reason: str
    approver: str
    accepted_until: datetime | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


@dataclass(frozen=True, slots=True)
class ReportTarget:
    id: str
    name: str
    url: str
    include: tuple[str, ...]
    exclude: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReportScan:
    id: str
    engine: str
    status: str
    pages_done: int
    started_at: datetime | None
    finished_at: datetime | None
    error: str

    @property
    def seconds(self) -> float:
        if self.started_at is None or self.finished_at is None:
            return 0.0
        return max(0.0, (self.finished_at - self.started_at).total_seconds())


@dataclass(frozen=True, slots=True)
class Report:
    target: ReportTarget
    scan: ReportScan | None
    findings: tuple[ReportFinding, ...]
    generated_at: datetime

    @property
    def engine(self) -> str:
        """The scan's engine, or the one engine of the findings, else ``multiple``."""
        if self.scan is not None:
            return self.scan.engine
        engines = {f.engine for f in self.findings}
        return engines.pop() if len(engines) == 1 else "multiple"

    def by_risk(self) -> dict[str, int]:
        """Active findings per risk, every risk present, most serious first."""
        counts = Counter(f.risk for f in self.findings if f.active)
        return {risk: counts.get(risk, 0) for risk in reversed(RISKS)}

    def by_status(self) -> dict[str, int]:
        counts = Counter(f.status for f in self.findings)
        known = {status: counts.get(status, 0) for status in STATUSES}
        return known | {s: n for s, n in sorted(counts.items()) if s not in known}

    def rules(self) -> list[Rule]:
        """The rules the findings name, in the order of their first finding."""
        seen: dict[str, Rule] = {}
        for f in self.findings:
            if f.rule not in seen:
                seen[f.rule] = RULES.get(f.rule) or Rule(
                    f.rule, f.title, f.risk, f.cwe, f.zap_plugin_id, ""
                )
        return list(seen.values())


def build_report(target: ScanTarget, scan: Scan | None, findings: Sequence[Finding]) -> Report:
    now = utcnow()
    views = sorted(
        (_finding(f, now) for f in findings),
        key=lambda f: (-risk_rank(f.risk), f.rule, f.url_template, f.parameter, f.fingerprint),
    )
    return Report(
        target=ReportTarget(
            id=str(target.id),
            name=clean(target.name),
            url=clean(target.url),
            include=tuple(clean(p) for p in _json_list(target.include)),
            exclude=tuple(clean(p) for p in _json_list(target.exclude)),
        ),
        scan=None
        if scan is None
        else ReportScan(
            id=str(scan.id),
            engine=scan.engine,
            status=scan.status,
            pages_done=scan.pages_done or 0,
            started_at=scan.started_at,
            finished_at=scan.finished_at,
            error=clean(scan.error),
        ),
        findings=tuple(views),
        generated_at=now,
    )


def rampart_version() -> str:
    try:
        return version("rampart")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def help_uri(rule: Rule) -> str:
    """ZAP's page for the alert where one exists, else MITRE's page for the CWE, else ours."""
    if rule.zap_plugin_id is not None:
        return f"https://www.zaproxy.org/docs/alerts/{rule.zap_plugin_id}/"
    if rule.cwe is not None:
        return f"https://cwe.mitre.org/data/definitions/{rule.cwe}.html"
    return INFORMATION_URI


def _finding(f: Finding, now: datetime) -> ReportFinding:
    return ReportFinding(
        id=str(f.id),
        fingerprint=f.fingerprint,
        engine=f.engine,
        rule=f.rule,
        title=clean(f.title),
        cwe=f.cwe,
        zap_plugin_id=f.zap_plugin_id,
        risk=f.risk,
        confidence=f.confidence,
        url_template=clean(f.url_template),
        url=clean(f.url),
        parameter=clean(f.parameter),
        method=f.method or "GET",
        evidence=clean(f.evidence),
        status=f.status or "new",
        first_seen_at=f.first_seen_at,
        last_seen_at=f.last_seen_at,
        sla_due_at=f.sla_due_at,
        overdue=(f.status or "new") in ACTIVE and f.sla_due_at < now,
        fixed_at=f.fixed_at,
        reason=clean(f.reason),
        approver=clean(f.approver),
        accepted_until=f.accepted_until,
    )


def _json_list(value: str | None) -> list[str]:
    try:
        parsed = json.loads(value or "[]")
    except ValueError:
        return []
    return [str(item) for item in parsed] if isinstance(parsed, list) else []


def iso(value: datetime | None) -> str | None:
    """RFC 3339 UTC with a ``Z`` (what SARIF's date-time fields and JUnit consumers read)."""
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")
