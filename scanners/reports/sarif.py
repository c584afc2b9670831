"""SARIF 2.1.0 (OASIS, errata 01) as code-scanning UIs read it: one run, the rules with CWE tags
and a numeric ``security-severity``, one result per finding located at its URL (with a SARIF
``webRequest``), ``partialFingerprints`` for dedupe across uploads, and accepted or false-positive
findings as external suppressions so a UI shows them dismissed.

Locations are relative to the target's origin, named in ``originalUriBaseIds`` (SARIF 3.14.14):
GitHub code scanning refuses an upload whose artifact URIs are absolute ``http(s)`` ones ("URI
scheme did not match the checkout URI scheme"), while a relative URI with a base id it accepts."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlsplit

from scanners.reports.content import (
    INFORMATION_URI,
    Report,
    ReportFinding,
    help_uri,
    iso,
    rampart_version,
)
from scanners.rules import Rule

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
FINGERPRINT_KEY = "rampartFinding/v1"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub code scanning reads a 0.0-10.0 score: 9.0+ critical, 7.0+ high, 4.0+ medium, else low.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
PRECISION = {"confirmed": "very-high", "high": "high", "medium": "medium", "low": "low"}
BASELINE_STATE = {"new": "new", "open": "unchanged", "fixed": "absent"}
# Characters a URI may carry as they are; anything else (braces, brackets of a mask, spaces)
# is percent-encoded so artifactLocation.uri stays a valid URI.
_URI_SAFE = ":/?#@!$&'()*+,;=%~"
_PATH_SAFE = "/@!$&'()*+,;=%~"  # a relative path: a colon could read as a scheme
TARGET_BASE = "TARGET"


def render_sarif(report: Report) -> bytes:
    rules = report.rules()
    index = {rule.key: i for i, rule in enumerate(rules)}
    bases = _base_ids(report)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": f"Rampart {report.engine}",
                "version": rampart_version(),
                "informationUri": INFORMATION_URI,
                "rules": [_rule(rule) for rule in rules],
            }
        },
        # The category a code-scanning UI keeps apart: one per target and engine.
        "automationDetails": {"id": f"rampart/{report.target.name}/{report.engine}/"},
        "originalUriBaseIds": {
            name: {"uri": origin, "description": {"text": f"origin of {report.target.name}"}}
            for origin, name in bases.items()
        },
        "results": [_result(f, index[f.rule], bases) for f in report.findings],
        "properties": {
            "target": {"name": report.target.name, "url": report.target.url},
            "summary": {"byRisk": report.by_risk(), "byStatus": report.by_status()},
        },
    }
    if report.scan is not None:
        invocation: dict[str, Any] = {
            "executionSuccessful": report.scan.status == "complete",
            "properties": {
                "scanId": report.scan.id,
                "status": report.scan.status,
                "pagesDone": report.scan.pages_done,
            },
        }
        if report.scan.started_at is not None:
            invocation["startTimeUtc"] = iso(report.scan.started_at)
        if report.scan.finished_at is not None:
            invocation["endTimeUtc"] = iso(report.scan.finished_at)
        if report.scan.error:
            invocation["toolExecutionNotifications"] = [
                {"level": "error", "message": {"text": report.scan.error}}
            ]
        run["invocations"] = [invocation]
    document = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(document, indent=2, ensure_ascii=False).encode()


def _rule(rule: Rule) -> dict[str, Any]:
    tags = ["security"] + ([f"external/cwe/cwe-{rule.cwe}"] if rule.cwe is not None else [])
    properties: dict[str, Any] = {
        "tags": tags,
        "security-severity": SECURITY_SEVERITY.get(rule.risk, "0.0"),
        "risk": rule.risk,
    }
    if rule.zap_plugin_id is not None:
        properties["zapPluginId"] = rule.zap_plugin_id
    described: dict[str, Any] = {
        "id": rule.key,
        "name": "".join(part.capitalize() for part in rule.key.split("-")),
        "shortDescription": {"text": rule.title},
        "helpUri": help_uri(rule),
        "defaultConfiguration": {"level": LEVELS.get(rule.risk, "note")},
        "properties": properties,
    }
    if rule.solution:
        described["help"] = {"text": rule.solution}
    return described


def _base_ids(report: Report) -> dict[str, str]:
    """Origin -> base id: the target's origin is TARGET, any other origin (an engine that
    followed a link off the target) ORIGIN1, ORIGIN2 ..."""
    bases = {_origin(report.target.url): TARGET_BASE}
    for f in report.findings:
        bases.setdefault(_origin(f.url), f"ORIGIN{len(bases)}")
    return bases


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return quote(f"{parts.scheme}://{parts.netloc}/", safe=_URI_SAFE)


def _relative(url: str) -> str:
    parts = urlsplit(url)
    relative = quote(parts.path.lstrip("/"), safe=_PATH_SAFE)
    if parts.query:
        relative += "?" + quote(parts.query, safe=_URI_SAFE)
    return relative if relative and not relative.startswith("?") else "./" + relative


def _result(f: ReportFinding, rule_index: int, bases: dict[str, str]) -> dict[str, Any]:
    where = f.url_template + (f" ({f.parameter})" if f.parameter else "")
    text = f"{f.title} at {f.method} {where}." + (f" Evidence: {f.evidence}" if f.evidence else "")
    uri = quote(f.url, safe=_URI_SAFE)
    result: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": rule_index,
        "kind": "pass" if f.status == "fixed" else "fail",
        "level": LEVELS.get(f.risk, "note"),
        "message": {"text": text},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {
                        "uri": _relative(f.url),
                        "uriBaseId": bases[_origin(f.url)],
                    }
                }
            }
        ],
        "webRequest": {"target": uri, "method": f.method},
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
        "rank": float(SECURITY_SEVERITY.get(f.risk, "0.0")) * 10,
        "properties": {
            "findingId": f.id,
            "engine": f.engine,
            "risk": f.risk,
            "confidence": f.confidence,
            "precision": PRECISION.get(f.confidence, "medium"),
            "status": f.status,
            "urlTemplate": f.url_template,
            "parameter": f.parameter,
            "evidence": f.evidence,
            "firstSeen": iso(f.first_seen_at),
            "lastSeen": iso(f.last_seen_at),
            "slaDueAt": iso(f.sla_due_at),
            "slaOverdue": f.overdue,
        },
    }
    if f.status == "fixed":
        result["level"] = "none"  # SARIF: a pass carries level none
    if f.status in BASELINE_STATE:
        result["baselineState"] = BASELINE_STATE[f.status]
    if f.status in ("accepted", "false_positive"):
        suppression: dict[str, Any] = {
            "kind": "external",
            "status": "accepted",
            "justification": f.reason or f.status.replace("_", " "),
        }
        if f.status == "accepted":
            suppression["properties"] = {
                "approver": f.approver,
                "acceptedUntil": iso(f.accepted_until),
            }
        result["suppressions"] = [suppression]
    return result
