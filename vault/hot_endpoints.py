"""Tokenize and detokenize, the requests services make by the thousand, as lean routes: plain
async endpoints taking only the request (FastAPI solves nothing, no threadpool hop), the body
parsed once (core.strict_json), the guard run on the event loop (core.authz.grant_access), and
the request's rows, its audit entry and the guard's audit entry of an allow committed together
by the audit writer's group commit (core.audit.writer), shared with concurrent requests, before
the answer is sent. Answers are JSON written straight from the results (vault.schemas).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from core.audit.service import EventFields, PreparedEvent, prepare_event
from core.audit.writer import get_audit_writer
from core.authz import Grant, declare_permission, grant_access
from core.errors import RampartError
from core.strict_json import StrictJsonRoute, json_body_openapi, read_json_body, validated_body
from vault import access, service
from vault.endpoints import SCOPE_PARAMETER, caller_view
from vault.exceptions import CandidateBudgetExceeded
from vault.oracles import SCOPE_HEADER, CallerView, alert_event
from vault.records import Outcome, TokenizeRequest
from vault.schemas import (
    DetokenizeBatchIn,
    DetokenizeBatchOut,
    DetokenizeIn,
    DetokenizeOut,
    TokenBatchOut,
    TokenizeBatchIn,
    TokenizeIn,
    TokenOut,
    batch_json,
    detokenized_json,
    dumps,
    token_json,
)
from vault.types import TYPES

R = TypeVar("R")
NO_STORE = {"Cache-Control": "no-store"}
PROBLEM_MEDIA_TYPE = "application/problem+json"
JSON_MEDIA_TYPE = "application/json"
# Preparing a batch is ~10 ms of CPU: off the event loop, so single requests keep flowing.
BATCH_IN_THREADPOOL = 50
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": "problem+json"} for status in (400, 401, 403, 404, 410, 413, 429, 503)
}

router = APIRouter(prefix="/v1/vault", tags=["vault"], route_class=StrictJsonRoute)
Endpoint = Callable[[Request], Awaitable[Response]]


def _problem(error: RampartError) -> JSONResponse:
    return JSONResponse(error.to_problem(), status_code=error.status, media_type=PROBLEM_MEDIA_TYPE)


async def _committed(
    grant: Grant, work: Callable[[Session], tuple[R, EventFields | PreparedEvent]]
) -> R:
    """``work``'s result once its writes, its event and the guard's events are committed in the
    group commit. Events are validated here, before the transaction, when they can be."""
    decided = [prepare_event(**fields) for fields in grant.events]

    def audited(session: Session) -> tuple[R, Sequence[PreparedEvent]]:
        result, event = work(session)
        ready = event if isinstance(event, PreparedEvent) else prepare_event(**event)
        return result, [*decided, ready]

    writer = get_audit_writer()
    try:
        return await writer.submit_work_async(audited)
    except Exception:
        # The guard's allow (detokenize, PCI DSS 10.2.1.1) stays on record when the access then
        # failed, as the routed guard records it in its own unit of work before the endpoint.
        for event in decided:
            await writer.submit_async(event)
        raise


def tokenize_request(body: TokenizeIn) -> TokenizeRequest:
    return TokenizeRequest(
        value=body.value, subject=body.subject, ttl_seconds=body.ttl_seconds, format=body.format
    )


def _drafted(
    kind: str, requests: list[TokenizeRequest], grant: Grant, view: CallerView
) -> service.DraftedBatch | service.PreparedBatch:
    """Validated, and drawn and encrypted when keys are in memory (the common case): the group
    commit's transaction then only inserts."""
    caller = grant.principal
    prepared = service.prepare_batch(kind, requests)
    return service.draft_batch(caller.tenant, prepared, caller.actor, view) or prepared


def _storing(
    draft: service.DraftedBatch | service.PreparedBatch, grant: Grant, view: CallerView
) -> Callable[[Session], tuple[list[Outcome], EventFields | PreparedEvent]]:
    tenant, actor = grant.principal.tenant, grant.principal.actor
    if isinstance(draft, service.DraftedBatch):
        drafted = draft
        return lambda session: service.store_drafted(session, tenant, drafted, actor, view)
    prepared = draft
    return lambda session: service.store_audited(session, tenant, prepared, actor, view)


async def _view(request: Request, grant: Grant, kind: str) -> CallerView:
    if SCOPE_HEADER in request.headers:  # joining a shared scope is decided and audited: sync
        return await run_in_threadpool(caller_view, request, grant.principal, kind)
    return caller_view(request, grant.principal, kind)


async def _over_budget(
    error: CandidateBudgetExceeded, view: CallerView, kind: str, grant: Grant
) -> Response:
    """429 for a run of candidates past the caller's budget: nothing of the request was stored,
    its alert commits (vault.oracles)."""
    alert = alert_event(error, view, kind, "tokenize", grant.principal.actor)
    await get_audit_writer().submit_async(prepare_event(**alert))
    response = _problem(error)
    response.headers["Retry-After"] = str(error.extensions["retry_after_seconds"])
    return response


def _tokenize_endpoint(kind: str, single: bool) -> Endpoint:
    obj, act = f"vault:{kind}", "tokenize"

    async def endpoint(request: Request) -> Response:
        document = await read_json_body(request)
        grant = await grant_access(request, obj, act)
        items: list[TokenizeIn]
        if single:
            items = [validated_body(TokenizeIn, document)]
        else:
            items = validated_body(TokenizeBatchIn, document).items
        requests = [tokenize_request(item) for item in items]
        view = await _view(request, grant, kind)
        if len(requests) < BATCH_IN_THREADPOOL:
            draft = _drafted(kind, requests, grant, view)
        else:
            draft = await run_in_threadpool(_drafted, kind, requests, grant, view)
        try:
            outcomes = await _committed(grant, _storing(draft, grant, view))
        except CandidateBudgetExceeded as exc:
            return await _over_budget(exc, view, kind, grant)
        return tokenized_response(outcomes) if single else tokenized_batch_response(outcomes)

    declare_permission(endpoint, obj, act)
    return endpoint


def _detokenize_endpoint(kind: str, single: bool) -> Endpoint:
    obj, act = f"vault:{kind}", "detokenize"

    async def endpoint(request: Request) -> Response:
        document = await read_json_body(request)
        grant = await grant_access(request, obj, act)
        body: DetokenizeIn | DetokenizeBatchIn
        if single:
            body = validated_body(DetokenizeIn, document)
            tokens = [body.token]
        else:
            body = validated_body(DetokenizeBatchIn, document)
            tokens = body.tokens
        caller, purpose = grant.principal, body.purpose
        outcomes = await _committed(
            grant,
            lambda session: access.detokenize_audited(
                session,
                tenant=caller.tenant,
                token_type=kind,
                tokens=tokens,
                purpose=purpose,
                actor=caller.actor,
            ),
        )
        return detokenized_response(outcomes) if single else detokenized_batch_response(outcomes)

    declare_permission(endpoint, obj, act)
    return endpoint


def tokenized_response(outcomes: list[Any]) -> Response:
    (outcome,) = outcomes
    if isinstance(outcome, RampartError):
        return _problem(outcome)
    status = 201 if outcome.created else 200
    return Response(dumps(token_json(outcome)), status_code=status, media_type=JSON_MEDIA_TYPE)


def tokenized_batch_response(outcomes: list[Any]) -> Response:
    return Response(batch_json(outcomes, token_json), media_type=JSON_MEDIA_TYPE)


def detokenized_response(outcomes: list[Any]) -> Response:
    (outcome,) = outcomes
    if isinstance(outcome, RampartError):
        return _problem(outcome)
    body = dumps(detokenized_json(outcome))
    return Response(body, media_type=JSON_MEDIA_TYPE, headers=NO_STORE)


def detokenized_batch_response(outcomes: list[Any]) -> Response:
    body = batch_json(outcomes, detokenized_json)
    return Response(body, media_type=JSON_MEDIA_TYPE, headers=NO_STORE)


def _add_routes(kind: str) -> None:
    for path, endpoint, body, answer, operation, summary, extra in (
        (
            "tokens",
            _tokenize_endpoint(kind, single=True),
            TokenizeIn,
            TokenOut,
            f"tokenize_{kind}",
            f"Tokenize one {kind} value",
            SCOPE_PARAMETER,
        ),
        (
            "tokens/batch",
            _tokenize_endpoint(kind, single=False),
            TokenizeBatchIn,
            TokenBatchOut,
            f"tokenize_{kind}_batch",
            f"Tokenize up to 1000 {kind} values",
            SCOPE_PARAMETER,
        ),
        (
            "detokenize",
            _detokenize_endpoint(kind, single=True),
            DetokenizeIn,
            DetokenizeOut,
            f"detokenize_{kind}",
            f"The {kind} value behind a token, for a declared purpose",
            {},
        ),
        (
            "detokenize/batch",
            _detokenize_endpoint(kind, single=False),
            DetokenizeBatchIn,
            DetokenizeBatchOut,
            f"detokenize_{kind}_batch",
            f"The {kind} values behind up to 1000 tokens, for a declared purpose",
            {},
        ),
    ):
        # The endpoint returns its Response itself: ``response_model`` documents the answer
        # and is never validated against.
        router.add_api_route(
            f"/{kind}/{path}",
            endpoint,
            methods=["POST"],
            status_code=201 if path == "tokens" else 200,
            response_model=answer,
            responses=ERRORS,
            operation_id=operation,
            summary=summary,
            openapi_extra={**json_body_openapi(body), **extra},
        )


for _token_type in TYPES:
    _add_routes(_token_type.value)
