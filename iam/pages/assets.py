"""The pages' static files (stylesheet, WebAuthn script) and the brand stylesheet built from
settings, so the accent colour needs no inline style."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from core.errors import NotFound
from core.settings import get_settings
from core.strict_json import StrictJsonRoute
from iam.pages.rendering import STATIC

router = APIRouter(tags=["login pages"], route_class=StrictJsonRoute)

_FILES = {"rampart.css": "text/css", "webauthn.js": "text/javascript"}
_CACHE = {"cache-control": "public, max-age=3600"}
_CSS: dict[int | str, dict[str, Any]] = {
    200: {"description": "Stylesheet", "content": {"text/css": {"schema": {"type": "string"}}}}
}
_ASSET: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A static file of the pages",
        "content": {t: {"schema": {"type": "string"}} for t in sorted(set(_FILES.values()))},
    }
}


@router.get("/assets/iam/brand.css", response_class=Response, responses=_CSS)
def brand_stylesheet() -> Response:
    # brand_color is validated as #rrggbb by the settings, so it cannot break out of the rule.
    css = f":root {{ --brand: {get_settings().brand_color}; }}\n"
    return Response(css, media_type="text/css", headers=_CACHE)


@router.get("/assets/iam/{name}", response_class=Response, responses=_ASSET)
def static_file(name: str) -> Response:
    media_type = _FILES.get(name)
    if media_type is None:
        raise NotFound("no such file")
    return FileResponse(STATIC / name, media_type=media_type, headers=_CACHE)
