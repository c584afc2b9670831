"""Scan reports: SARIF 2.1.0, JUnit XML, JSON and HTML of one target's findings, each from the
same cleaned view (``content``), so no format can show what another masks."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from scanners.exceptions import ReportFormatUnknown
from scanners.models import Finding, Scan, ScanTarget
from scanners.reports.content import Report, build_report

FORMATS: tuple[str, ...] = ("sarif", "junit", "json", "html")
MEDIA_TYPES = {
    "sarif": "application/sarif+json",
    "junit": "application/xml",
    "json": "application/json",
    "html": "text/html; charset=utf-8",
}


def render(
    fmt: str, *, target: ScanTarget, scan: Scan | None, findings: Sequence[Finding]
) -> bytes:
    """The report of ``findings`` on ``target`` (from ``scan`` where given) in format ``fmt``."""
    renderer = _renderer(fmt)
    return renderer(build_report(target, scan, findings))


def _renderer(fmt: str) -> Callable[[Report], bytes]:
    # Imported on demand: a CLI run that writes SARIF does not load Jinja2.
    if fmt == "sarif":
        from scanners.reports.sarif import render_sarif

        return render_sarif
    if fmt == "junit":
        from scanners.reports.junit import render_junit

        return render_junit
    if fmt == "json":
        from scanners.reports.json_report import render_json

        return render_json
    if fmt == "html":
        from scanners.reports.html_report import render_html

        return render_html
    raise ReportFormatUnknown(f"unknown report format {fmt!r}; formats: {', '.join(FORMATS)}")
