"""Jinja2 rendering of the dashboard pages (their own templates, the login session's CSRF token)
and the trend chart drawn server-side as SVG geometry: no script, nothing inline to allow."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse

from compliance.dashboard.views import STATUS_LABELS, FrameworkView
from iam.pages.rendering import PAGES_CSP, branding
from iam.sessions import service as sessions

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
DASHBOARD_CSP = PAGES_CSP  # nothing inline, nothing from elsewhere (server/registry.py)


@functools.cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["status_labels"] = STATUS_LABELS
    return env


def render(
    db: Session, request: Request, template: str, *, status: int = 200, **context: Any
) -> HTMLResponse:
    """``template`` with branding and the login session's CSRF token (for the page's forms)."""
    csrf = sessions.csrf_for(db, request)
    body = _environment().get_template(template).render(brand=branding(), csrf=csrf, **context)
    response = HTMLResponse(body, status_code=status)
    response.headers["cache-control"] = "no-store"
    pending = sessions.pending_cookie(request)
    if pending is not None:
        sessions.set_cookie(response, pending)
    return response


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    label: str
    href: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    line: str
    """The polyline's ``points`` attribute."""
    points: list[ChartPoint]
    gridlines: list[tuple[float, str]]
    """(y, label) of the 0/50/100 % lines."""


CHART_WIDTH, CHART_HEIGHT, MARGIN = 640, 180, 32


def trend_chart(view: FrameworkView, href_of: Any) -> Chart:
    """Percent passing over the weekly points; each point links to the posture of its day."""
    inner_w, inner_h = CHART_WIDTH - 2 * MARGIN, CHART_HEIGHT - 2 * MARGIN
    count = len(view.trend)
    points = []
    for n, point in enumerate(view.trend):
        x = MARGIN + (inner_w * n / (count - 1) if count > 1 else inner_w / 2)
        y = MARGIN + inner_h * (1 - point.percent_passing / 100.0)
        failing = point.counts["failing"]
        label = f"{point.day.isoformat()}: {point.percent_passing:g}% passing, {failing} failing"
        points.append(ChartPoint(round(x, 1), round(y, 1), label, href_of(point.day)))
    gridlines = [(MARGIN + inner_h * (1 - pct / 100.0), f"{pct}%") for pct in (0, 50, 100)]
    line = " ".join(f"{p.x},{p.y}" for p in points)
    return Chart(CHART_WIDTH, CHART_HEIGHT, line, points, gridlines)
