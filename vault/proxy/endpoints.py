"""HTTP for the vault proxies: route management under ``/v1/vault/routes`` and the outbound
proxy ``/v1/vault/proxy/{route}/{path}``. The inbound entry point, authenticated by signature
instead of a bearer token, lives in ``vault.proxy.inbound_endpoints``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from core.authz import Principal, authorize, authorize_request, check_access
from core.http import DbSession
from core.strict_json import StrictJsonRoute
from vault.proxy.forwarding import ProxyResponse
from vault.proxy.outbound import forward_outbound
from vault.proxy.routes import (
    FORWARDABLE_METHODS,
    RouteDeclaration,
    create_route,
    delete_route,
    list_routes,
    rotate_inbound_secret,
)
from vault.proxy.schemas import (
    RouteCreatedOut,
    RouteIn,
    RouteListOut,
    RouteOut,
    SecretOut,
    declaration_fields,
)

router = APIRouter(prefix="/v1/vault", tags=["vault proxies"], route_class=StrictJsonRoute)

RoutesReader = Annotated[Principal, authorize("vault:routes", "read")]
RoutesWriter = Annotated[Principal, authorize("vault:routes", "write")]
PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": "problem+json"}
    for status in (403, 404, 405, 410, 413, 422, 502, 503, 504)
}


async def _route_forward_guard(request: Request) -> Principal:
    """``vault:proxy:<route>`` ``forward``: the permission names the route being used."""
    name = str(request.path_params.get("route", ""))
    return await authorize_request(request, f"vault:proxy:{name}", "forward")


_route_forward_guard.rampart_permission = ("vault:proxy:{route}", "forward")  # type: ignore[attr-defined]
RouteForwarder = Annotated[Principal, Depends(_route_forward_guard)]


def relayed_response(answer: ProxyResponse) -> Response:
    headers = {k: v for k, v in answer.headers.items() if k != "content-type"}
    headers["cache-control"] = "no-store"
    return Response(
        answer.body,
        status_code=answer.status,
        headers=headers,
        media_type=answer.headers.get("content-type"),
    )


def _add_forward_route(method: str) -> None:
    @router.api_route(
        "/proxy/{route}/{path:path}",
        methods=[method],
        responses=PROBLEMS,
        operation_id=f"vault_proxy_forward_{method.lower()}",
        summary="Forward a JSON body to the route's destination, its declared tokens detokenized",
    )
    async def forward(route: str, path: str, request: Request, caller: RouteForwarder) -> Response:
        # At most MAX_PROXY_BODY_BYTES: the edge refused more (registry.BODY_LIMIT_BY_PREFIX).
        body = await request.body()

        def may_detokenize(token_type: str) -> None:
            check_access(request, f"vault:{token_type}", "detokenize")

        answer = await run_in_threadpool(
            lambda: forward_outbound(
                caller=caller,
                route_name=route,
                method=request.method,
                path=path,
                query=request.url.query,
                body=body,
                caller_headers=dict(request.headers),
                may_detokenize=may_detokenize,
            )
        )
        return relayed_response(answer)


for _method in FORWARDABLE_METHODS:
    _add_forward_route(_method)


@router.get("/routes", response_model=RouteListOut, operation_id="vault_routes_list")
def routes_list(session: DbSession, caller: RoutesReader) -> RouteListOut:
    return RouteListOut(routes=[RouteOut.of(r) for r in list_routes(session, tenant=caller.tenant)])


@router.post(
    "/routes",
    status_code=201,
    response_model=RouteCreatedOut,
    responses=PROBLEMS,
    operation_id="vault_routes_create",
)
def routes_create(body: RouteIn, session: DbSession, caller: RoutesWriter) -> Response:
    route, secret = create_route(
        session,
        tenant=caller.tenant,
        declaration=RouteDeclaration(
            name=body.name,
            direction=body.direction,
            destination=body.destination,
            fields=declaration_fields(body),
            methods=tuple(body.methods),
            purpose=body.purpose,
        ),
        actor=caller.actor,
    )
    out = RouteCreatedOut(route=RouteOut.of(route), secret=secret)
    return Response(
        out.model_dump_json(),
        status_code=201,
        media_type="application/json",
        headers={"cache-control": "no-store"},
    )


@router.delete("/routes/{name}", response_model=RouteOut, operation_id="vault_routes_delete")
def routes_delete(name: str, session: DbSession, caller: RoutesWriter) -> RouteOut:
    return RouteOut.of(delete_route(session, tenant=caller.tenant, name=name, actor=caller.actor))


@router.post("/routes/{name}/secret", response_model=SecretOut, operation_id="vault_routes_rotate")
def routes_rotate_secret(name: str, session: DbSession, caller: RoutesWriter) -> Response:
    secret = rotate_inbound_secret(session, tenant=caller.tenant, name=name, actor=caller.actor)
    return Response(
        SecretOut(secret=secret).model_dump_json(),
        media_type="application/json",
        headers={"cache-control": "no-store"},
    )
