"""The HTML report: one self-contained page (inline style, no script, nothing loaded from
elsewhere) with the summary and a table of findings; Jinja2 autoescapes every value."""

from __future__ import annotations

import functools
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from scanners.reports.content import Report, iso, rampart_version

TEMPLATES = Path(__file__).resolve().parent / "templates"


@functools.cache
def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["iso"] = iso
    return environment


def render_html(report: Report) -> bytes:
    template = _environment().get_template("report.html")
    return template.render(report=report, version=rampart_version()).encode()
