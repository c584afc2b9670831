"""The human-readable report of an export: HTML (jinja2, autoescaped) and the same page as PDF
(weasyprint). It summarises; the CSV, JSON and OSCAL members hold the detail."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from compliance.controls import Framework
from compliance.exports.contents import Period
from compliance.posture import STATUSES, ControlPosture

_TEMPLATES = Path(__file__).parent / "templates"


def render_html(
    framework: Framework,
    period: Period,
    postures: Sequence[ControlPosture],
    contents: Sequence[tuple[str, str]],
    *,
    generated_at: datetime,
    version: str,
    fingerprint: str,
) -> bytes:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    environment = Environment(
        loader=FileSystemLoader(_TEMPLATES), autoescape=select_autoescape(("html",))
    )
    page = environment.get_template("report.html").render(
        framework=framework,
        period_start=f"{period.start:%Y-%m-%d %H:%M} UTC",
        period_end=f"{period.end:%Y-%m-%d %H:%M} UTC",
        as_of=f"{period.as_of:%Y-%m-%d %H:%M:%S} UTC",
        generated_at=f"{generated_at:%Y-%m-%d %H:%M:%S} UTC",
        version=version,
        fingerprint=fingerprint,
        statuses=STATUSES,
        counts=Counter(item.status for item in postures),
        postures=postures,
        contents=contents,
    )
    return page.encode()


def render_pdf(html: bytes) -> bytes:
    """The HTML report as PDF. Nothing is fetched: the page has no external resources, and the
    URL fetcher refuses any, so a crafted value can never make the exporter reach the network."""
    from weasyprint import HTML

    def refuse(url: str, timeout: int = 10, ssl_context: object = None) -> dict[str, object]:
        raise ValueError("the evidence report fetches nothing")

    pdf: bytes = HTML(string=html.decode(), url_fetcher=refuse).write_pdf()
    return pdf
