"""The interactive API documentation at /docs, with a Content-Security-Policy that allows exactly
its own inline script (by hash) and the Swagger UI assets, nothing else."""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

DOCS_PATH = "/docs"
_ASSETS = "https://cdn.jsdelivr.net"
_FAVICON_HOST = "https://fastapi.tiangolo.com"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _script_hashes(html: str) -> list[str]:
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    ]


def build_docs_page(openapi_url: str, title: str) -> tuple[APIRouter, str]:
    """The /docs router and the CSP its page needs (for the security-headers policy)."""
    html = bytes(get_swagger_ui_html(openapi_url=openapi_url, title=title).body).decode()
    csp = "; ".join(
        [
            "default-src 'none'",
            f"script-src {_ASSETS} {' '.join(_script_hashes(html))}",
            # Swagger UI sets inline styles from its script; styles cannot run code.
            f"style-src {_ASSETS} 'unsafe-inline'",
            f"img-src 'self' data: {_FAVICON_HOST}",
            "connect-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    router = APIRouter()

    @router.get(DOCS_PATH, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(html)

    return router, csp
