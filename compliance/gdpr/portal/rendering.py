"""The portal's pages: jinja2 over its own templates and the IdP pages' base (branding, CSRF
token and the pre-login cookie exactly as iam.pages.rendering.page does), and its page guard."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from fastapi import Request
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse

from core import authz
from iam.pages.rendering import TEMPLATES as IAM_TEMPLATES
from iam.pages.rendering import branding, safe_next
from iam.sessions import service as sessions

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
PORTAL_OBJECT = "privacy"
SIGN_IN = "/privacy"
HOME = "/privacy/requests"


@functools.cache
def _environment() -> Environment:
    return Environment(
        loader=ChoiceLoader([FileSystemLoader(TEMPLATES), FileSystemLoader(IAM_TEMPLATES)]),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(
    db: Session, request: Request, template: str, *, status: int = 200, **context: Any
) -> HTMLResponse:
    csrf = sessions.csrf_for(db, request)
    body = _environment().get_template(template).render(brand=branding(), csrf=csrf, **context)
    response = HTMLResponse(body, status_code=status)
    pending = sessions.pending_cookie(request)
    if pending is not None:
        sessions.set_cookie(response, pending)
    return response


def safe_portal_next(value: str | None) -> str:
    """A portal path to return to after signing in (a safe path, iam.pages.rendering.safe_next,
    under /privacy/); anything else is the requests page."""
    path = safe_next(value)
    return path if path.startswith("/privacy/") else HOME


def portal_page(act: str) -> Any:
    """core.authz.authorize_page for the portal (object ``privacy``); a browser without a login
    or portal session goes to the portal's own sign-in page (both ways to sign in are there)."""
    return authz.authorize_page(PORTAL_OBJECT, act, sign_in=SIGN_IN)
