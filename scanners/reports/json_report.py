"""The JSON report: a stable, documented shape (docs/scanners.md, "Reports") for scripts and
dashboards. ``format_version`` changes only when a field changes meaning or goes away."""

from __future__ import annotations

import json
from typing import Any

from scanners.reports.content import Report, ReportFinding, iso, rampart_version

FORMAT_VERSION = 1


def render_json(report: Report) -> bytes:
    scan = report.scan
    document: dict[str, Any] = {
        "format": "rampart-scan-report",
        "format_version": FORMAT_VERSION,
        "generated_at": iso(report.generated_at),
        "rampart_version": rampart_version(),
        "target": {
            "id": report.target.id,
            "name": report.target.name,
            "url": report.target.url,
            "include": list(report.target.include),
            "exclude": list(report.target.exclude),
        },
        "scan": None
        if scan is None
        else {
            "id": scan.id,
            "engine": scan.engine,
            "status": scan.status,
            "pages": scan.pages_done,
            "started_at": iso(scan.started_at),
            "finished_at": iso(scan.finished_at),
            "error": scan.error or None,
        },
        "summary": {
            "total": len(report.findings),
            "active": sum(1 for f in report.findings if f.active),
            "overdue": sum(1 for f in report.findings if f.overdue),
            "by_risk": report.by_risk(),
            "by_status": report.by_status(),
        },
        "findings": [_finding(f) for f in report.findings],
    }
    return json.dumps(document, indent=2, ensure_ascii=False).encode() + b"\n"


def _finding(f: ReportFinding) -> dict[str, Any]:
    return {
        "id": f.id,
        "fingerprint": f.fingerprint,
        "rule": f.rule,
        "title": f.title,
        "risk": f.risk,
        "confidence": f.confidence,
        "cwe": f.cwe,
        "zap_plugin_id": f.zap_plugin_id,
        "engine": f.engine,
        "status": f.status,
        "method": f.method,
        "url": f.url,
        "url_template": f.url_template,
        "parameter": f.parameter,
        "evidence": f.evidence,
        "first_seen_at": iso(f.first_seen_at),
        "last_seen_at": iso(f.last_seen_at),
        "sla_due_at": iso(f.sla_due_at),
        "sla_overdue": f.overdue,
        "fixed_at": iso(f.fixed_at),
        "reason": f.reason or None,
        "approver": f.approver or None,
        "accepted_until": iso(f.accepted_until),
    }
