"""JUnit XML for CI test tabs: one ``<testsuite>`` for the target, one ``<testcase>`` per rule of
the catalogue. A rule fails when an active (new or open) finding of medium risk or above names it;
active low and info findings, and accepted or false-positive ones, are listed in ``system-out``
without failing. A failed scan is an ``<error>`` in a ``scan`` test case."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from scanners.reports.content import Report, ReportFinding, iso
from scanners.rules import RULES, risk_rank

FAILS_AT = "medium"


def render_junit(report: Report) -> bytes:
    by_rule: dict[str, list[ReportFinding]] = {key: [] for key in RULES}
    for f in report.findings:
        by_rule.setdefault(f.rule, []).append(f)
    seconds = f"{report.scan.seconds:.3f}" if report.scan is not None else "0"
    suite = ET.Element(
        "testsuite",
        name=report.target.name,
        hostname=urlsplit(report.target.url).hostname or "",
        timestamp=iso(_started(report)) or "",
        time=seconds,
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in _properties(report):
        ET.SubElement(properties, "property", name=name, value=value)
    failures = errors = 0
    if report.scan is not None and report.scan.status == "failed":
        case = ET.SubElement(suite, "testcase", name="scan", classname=_classname(report), time="0")
        message = report.scan.error or "the scan failed"
        ET.SubElement(case, "error", message=message, type="scan-failed").text = message
        errors += 1
    for rule, findings in by_rule.items():
        case = ET.SubElement(suite, "testcase", name=rule, classname=_classname(report), time="0")
        failing = [f for f in findings if f.active and risk_rank(f.risk) >= risk_rank(FAILS_AT)]
        if failing:
            failures += 1
            worst = failing[0].risk  # findings come most serious first
            failure = ET.SubElement(
                case,
                "failure",
                message=f"{len(failing)} {failing[0].title} finding(s), worst {worst}",
                type=worst,
            )
            failure.text = "\n".join(_line(f) for f in failing)
        others = [f for f in findings if f not in failing and f.status != "fixed"]
        if others:
            ET.SubElement(case, "system-out").text = "\n".join(_line(f) for f in others)
    suite.set("tests", str(len(by_rule) + errors))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", "0")
    root = ET.Element(
        "testsuites",
        name=f"Rampart {report.engine} scan",
        tests=suite.get("tests", "0"),
        failures=str(failures),
        errors=str(errors),
        time=seconds,
    )
    root.append(suite)
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _classname(report: Report) -> str:
    return f"rampart.scan.{report.target.name}"


def _started(report: Report) -> datetime:
    if report.scan is not None and report.scan.started_at is not None:
        return report.scan.started_at
    return report.generated_at


def _properties(report: Report) -> list[tuple[str, str]]:
    found = [("target", report.target.url), ("engine", report.engine)]
    if report.scan is not None:
        found += [("scan.id", report.scan.id), ("scan.status", report.scan.status),
                  ("scan.pages", str(report.scan.pages_done))]  # fmt: skip
    return found


def _line(f: ReportFinding) -> str:
    where = f.url + (f" [{f.parameter}]" if f.parameter else "")
    line = f"[{f.risk}] [{f.status}] {f.method} {where}"
    if f.status == "accepted":
        line += f" (accepted by {f.approver or '?'} until {iso(f.accepted_until) or '-'})"
    if f.overdue:
        line += f" (SLA overdue since {iso(f.sla_due_at)})"
    if f.evidence:
        line += f"\n    evidence: {f.evidence}"
    return line
