"""Public operational endpoints: liveness (/healthz), readiness (/readyz), Prometheus (/metrics)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from core.errors import PROBLEM_BASE
from core.strict_json import StrictJsonRoute
from server.metrics import render_metrics
from server.openapi import problem_response
from server.problems import ProblemResponse, problem_body
from server.readiness import ReadinessProbe, run_probes

NOT_READY_TYPE = PROBLEM_BASE + "not-ready"

# Listed for the zero-trust layer: these answer without authentication.
PUBLIC_PATHS = ("/healthz", "/readyz", "/metrics")

router = APIRouter(tags=["operations"], route_class=StrictJsonRoute)


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    checks: dict[str, Literal["ok", "fail"]]


class JsonBytesResponse(JSONResponse):
    """JSON already encoded (bytes): sent as is, documented as JSON."""

    def render(self, content: Any) -> bytes:
        return bytes(content)


class PrometheusResponse(Response):
    media_type = "text/plain"


_HEALTHY = Health().model_dump_json().encode()


@router.get(
    "/healthz",
    summary="Liveness: the process answers",
    response_model=Health,
    response_class=JsonBytesResponse,
)
async def healthz() -> Response:
    # Probed every few seconds by every orchestrator and load balancer: a prebuilt body, no
    # model validation or encoding per request.
    return JsonBytesResponse(_HEALTHY)


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Readiness: database, KMS and (when configured) Redis are reachable",
    responses={503: problem_response("A dependency is unreachable; `checks` names which")},
)
async def readyz(request: Request) -> Readiness | Response:
    probes: list[ReadinessProbe] = request.app.state.readiness_probes
    results = await run_probes(probes)
    checks: dict[str, Literal["ok", "fail"]] = {
        name: "ok" if passed else "fail" for name, passed in results.items()
    }
    failed = [name for name, passed in results.items() if not passed]
    if not failed:
        return Readiness(checks=checks)
    body = problem_body(
        NOT_READY_TYPE,
        "Not ready",
        503,
        f"Unreachable: {', '.join(failed)}.",
        checks=checks,
        failed=failed,
    )
    return ProblemResponse(body, status_code=503, headers={"Retry-After": "5"})


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=PrometheusResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics() -> Response:
    # Sync: collecting can touch files (multiprocess mode), so it runs in the threadpool.
    content, content_type = render_metrics()
    return Response(content, media_type=content_type)
