"""The few HTML pages the provider renders itself: authorization errors (never a redirect to an
unverified URI), consent for third-party clients, logout confirmation."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from iam.sessions.service import pending_cookie, set_cookie

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True),
)

PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def render(name: str, *, status: int = 200, csp: str = PAGE_CSP, **context: Any) -> HTMLResponse:
    html = _env.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers={"Content-Security-Policy": csp})


def error_page(error: str, description: str, status: int = 400) -> HTMLResponse:
    return render("error.html", status=status, error=error, description=description)


def consent_page(
    *,
    client_name: str,
    email: str,
    scopes: Sequence[str],
    params: Sequence[tuple[str, str]],
    csrf_token: str,
    redirect_origin: str,
) -> HTMLResponse:
    # The decision redirects to the client: browsers apply form-action to that redirect too.
    csp = PAGE_CSP.replace("form-action 'self'", f"form-action 'self' {redirect_origin}")
    return render(
        "consent.html",
        csp=csp,
        client_name=client_name,
        email=email,
        scopes=scopes,
        params=params,
        csrf_token=csrf_token,
    )


def carry_session_cookie(response: Response, http_request: Request) -> Response:
    """Set the browser's new pre-login cookie when the page's CSRF token was bound to it."""
    pending = pending_cookie(http_request)
    if pending is not None:
        set_cookie(response, pending)
    return response
