"""The interactive API documentation at /docs. Every asset it loads (Swagger UI's script and
stylesheet, from the locked ``swagger-ui-py`` package, and our own init script) is served by this
app under /docs/assets/, so its Content-Security-Policy names no other host and allows no inline
script."""

from __future__ import annotations

import functools
import html
import json
from importlib.resources import files
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, Response

from core.strict_json import StrictJsonRoute

DOCS_PATH = "/docs"
ASSETS_PATH = DOCS_PATH + "/assets"
# Served from memory, for a day: they change only with the package (or this file).
_ASSET_CACHE = {"cache-control": "public, max-age=86400"}
# What the page needs from the package, by name; no other name (no path) is ever looked up.
_PACKAGE_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
_INIT_SCRIPT = "swagger-init.js"
_ASSET_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A file of the documentation page",
        "content": {
            t.split(";")[0]: {"schema": {"type": "string"}}
            for t in sorted({*_PACKAGE_ASSETS.values(), "text/javascript"})
        },
    }
}

DOCS_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        # Swagger UI sets style attributes from its script; styles cannot run code.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ]
)


@functools.cache
def _package_asset(name: str) -> bytes:
    return (files("swagger_ui") / "static" / name).read_bytes()


def _init_script(openapi_url: str) -> bytes:
    # validatorUrl null: no badge fetched from validator.swagger.io.
    options = {
        "url": openapi_url,
        "dom_id": "#swagger-ui",
        "layout": "BaseLayout",
        "deepLinking": True,
        "showExtensions": True,
        "showCommonExtensions": True,
        "validatorUrl": None,
    }
    presets = "[SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset]"
    return (
        f"window.ui = SwaggerUIBundle(Object.assign({json.dumps(options)}, "
        f"{{ presets: {presets} }}));\n"
    ).encode()


def _page(title: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<link rel="icon" type="image/png" href="{ASSETS_PATH}/favicon-32x32.png">
<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="{ASSETS_PATH}/{_INIT_SCRIPT}"></script>
</body>
</html>
"""


def build_docs_page(openapi_url: str, title: str) -> tuple[APIRouter, str]:
    """The /docs router (page and assets) and the CSP its page needs."""
    page = _page(title)
    init_script = _init_script(openapi_url)
    router = APIRouter(route_class=StrictJsonRoute)

    @router.get(DOCS_PATH, tags=["documentation"], response_class=HTMLResponse)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page)

    @router.get(
        ASSETS_PATH + "/{name}",
        tags=["documentation"],
        response_class=Response,
        responses=_ASSET_DOC,
    )
    async def docs_asset(name: str) -> Response:
        if name == _INIT_SCRIPT:
            return Response(init_script, media_type="text/javascript", headers=_ASSET_CACHE)
        media_type = _PACKAGE_ASSETS.get(name)
        if media_type is None:
            raise HTTPException(404)
        return Response(_package_asset(name), media_type=media_type, headers=_ASSET_CACHE)

    return router, DOCS_CSP
