"""Jinja2 rendering of the login pages with branding and the CSRF token, and the one check on
where a page may send the browser next (relative same-origin paths only: no open redirect)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse

from core.settings import get_settings
from iam.sessions import service as sessions

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
DEFAULT_NEXT = "/account"

# The pages' Content-Security-Policy: nothing inline, nothing from elsewhere.
PAGES_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@functools.cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


# What every page route declares (OpenAPI): HTML, or a 303 to the next page.
_REFUSED_PAGE = {
    "description": "Refused: the page again with the reason, or problem+json for bad input",
    "content": {
        "text/html": {"schema": {"type": "string"}},
        "application/problem+json": {"schema": {"type": "object"}},
    },
}
PAGE_ROUTES: dict[str, Any] = {
    "tags": ["login pages"],
    "default_response_class": HTMLResponse,
    "responses": {
        303: {"description": "On to the next page (See Other)"},
        **{status: _REFUSED_PAGE for status in (400, 401, 403, 404, 429)},
    },
}
# A page's JSON helper (the WebAuthn ceremony's options and results): its own small errors.
_JSON_ERROR = {
    "description": 'Refused: {"error": "..."}',
    "content": {
        "application/json": {"schema": {"type": "object"}},
        "application/problem+json": {"schema": {"type": "object"}},
    },
}
JSON_ROUTE: dict[str, Any] = {
    "response_class": JSONResponse,
    "responses": {401: _JSON_ERROR, 403: _JSON_ERROR, 422: _JSON_ERROR},
}


def safe_next(value: str | None) -> str:
    """``value`` when it is a path on this site ("/..." but not "//host" or "/\\host"), else the
    account page."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return DEFAULT_NEXT
    if any(ord(ch) < 0x20 or ch == "\\" for ch in value):
        return DEFAULT_NEXT
    return value


def branding() -> dict[str, Any]:
    settings = get_settings()
    logo = settings.brand_logo_url
    # The pages' CSP allows images from this origin and data: URIs only.
    if (
        logo
        and not (logo.startswith("/") and not logo.startswith("//"))
        and not logo.startswith("data:image/")
    ):
        logo = None
    return {"name": settings.brand_name, "logo_url": logo}


def page(
    db: Session, request: Request, template: str, *, status: int = 200, **context: Any
) -> HTMLResponse:
    """Render ``template`` with branding and this browser's CSRF token; sets the (pre-)login
    cookie when the browser has none yet or the session token rotated during this request."""
    csrf = sessions.csrf_for(db, request)
    body = _environment().get_template(template).render(brand=branding(), csrf=csrf, **context)
    response = HTMLResponse(body, status_code=status)
    pending = sessions.pending_cookie(request)
    if pending is not None:
        sessions.set_cookie(response, pending)
    return response


def redirect(url: str) -> RedirectResponse:
    # 303: the browser follows a POST's redirect with a GET.
    return RedirectResponse(url, status_code=303)
