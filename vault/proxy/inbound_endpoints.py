"""The inbound proxy entry point ``POST /proxy/in/{tenant}/{route}/{path}``: called by an
external party (a gateway webhook) that holds no Rampart bearer token, so it is authenticated
by the route's HMAC signature (vault.proxy.signatures) instead of core.authz."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from core.strict_json import StrictJsonRoute
from vault.proxy.endpoints import relayed_response
from vault.proxy.inbound import forward_inbound

router = APIRouter(prefix="/proxy/in", tags=["vault proxies"], route_class=StrictJsonRoute)
PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": "problem+json"} for status in (401, 403, 405, 413, 422, 502, 503, 504)
}


@router.post(
    "/{tenant}/{route}/{path:path}",
    responses=PROBLEMS,
    operation_id="vault_proxy_inbound",
    summary="Signed inbound request: declared fields tokenized, then forwarded upstream",
)
async def receive(tenant: str, route: str, path: str, request: Request) -> Response:
    # At most MAX_PROXY_BODY_BYTES: the edge refused more (server.registry.BODY_LIMIT_BY_PREFIX).
    body = await request.body()
    answer = await run_in_threadpool(
        lambda: forward_inbound(
            tenant=tenant,
            route_name=route,
            method=request.method,
            path=path,
            query=request.url.query,
            body=body,
            headers=dict(request.headers),
        )
    )
    return relayed_response(answer)
