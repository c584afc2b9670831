"""The framework floors under /healthz: the same answer from a one-route Starlette app and a
one-route FastAPI app, no middleware, so the bench can tell what the framework costs per request
from what Rampart's edge (request ids, security headers, metrics, access log) adds."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = b'{"status":"ok"}'


async def _health(request: Request) -> Response:
    return Response(BODY, media_type="application/json")


starlette_app = Starlette(routes=[Route("/healthz", _health)])

fastapi_app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@fastapi_app.get("/healthz")
async def healthz() -> Response:
    return Response(BODY, media_type="application/json")
