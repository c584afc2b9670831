"""The pages' router (what server/registry.py includes) and their Content-Security-Policy."""

from __future__ import annotations

from fastapi import APIRouter

from core.strict_json import StrictJsonRoute
from iam.pages import account_endpoints, assets, device_endpoints, login_endpoints
from iam.pages.rendering import PAGES_CSP

router = APIRouter(route_class=StrictJsonRoute)
router.include_router(login_endpoints.router)
router.include_router(account_endpoints.router)
router.include_router(device_endpoints.router)
router.include_router(assets.router)

# Prefixes served with PAGES_CSP (server/registry.py PAGE_CSP_BY_PREFIX).
CSP_BY_PREFIX: tuple[tuple[str, str], ...] = (
    ("/login", PAGES_CSP),
    ("/logout", PAGES_CSP),
    ("/account", PAGES_CSP),
    ("/device", PAGES_CSP),
)
