"""Builds the FastAPI application from the domain routers, middleware, error handlers and lifespan.

Run with ``uvicorn --factory server.app:create_app`` (what ``rampart serve`` does).
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI

from core.logging import configure_logging
from core.settings import Settings, get_settings
from core.strict_json import StrictJsonRoute
from server import health, registry
from server.body_limit import BodyLimits
from server.docs_page import DOCS_PATH, build_docs_page
from server.lifespan import LifespanHook, build_lifespan, default_hooks
from server.middleware import EdgeMiddleware, SecurityHeaderPolicy
from server.openapi import install_problem_documentation
from server.problems import install_problem_handlers
from server.readiness import readiness_probes

OPENAPI_PATH = "/openapi.json"


def _trusted_proxies(settings: Settings) -> frozenset[str]:
    return frozenset(item.strip() for item in settings.trusted_proxies.split(",") if item.strip())


def create_app(
    settings: Settings | None = None, *, extra_hooks: Sequence[LifespanHook] = ()
) -> FastAPI:
    """A fully wired application; ``settings`` default to the environment's."""
    settings = settings or get_settings()
    configure_logging(settings)
    app = FastAPI(
        title="Rampart",
        summary="Identity, zero-trust authorization, tokenization vault and compliance evidence.",
        version="0.1.0",
        openapi_url=OPENAPI_PATH,
        docs_url=None,  # served by server.docs_page with its own CSP
        redoc_url=None,
        lifespan=build_lifespan(settings, [*default_hooks(settings), *extra_hooks]),
    )
    app.router.route_class = StrictJsonRoute  # operations added on the app itself
    app.state.settings = settings
    app.state.readiness_probes = readiness_probes(settings)

    docs_router, docs_csp = build_docs_page(OPENAPI_PATH, "Rampart API")
    app.include_router(health.router)
    app.include_router(docs_router)
    for router in registry.domain_routers():
        app.include_router(router)

    install_problem_handlers(app)
    install_problem_documentation(app)

    # One edge middleware instead of four: each ASGI layer costs a call and a send wrapper.
    app.add_middleware(
        EdgeMiddleware,
        policy=SecurityHeaderPolicy(
            csp_by_prefix=((DOCS_PATH, docs_csp), *registry.PAGE_CSP_BY_PREFIX),
            hsts_seconds=settings.hsts_seconds,
            trusted_proxies=_trusted_proxies(settings),
        ),
        body_limits=BodyLimits(settings.max_body_bytes, registry.body_limits_by_prefix()),
    )
    return app
