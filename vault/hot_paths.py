"""Hot paths for tokenize and detokenize (see server.fast_paths): the same answers as the routes
in vault.endpoints for a well-formed request whose caller is authorized, without FastAPI's
per-request machinery, and with the request's writes committed by the audit writer's group
commit (core.audit.writer): its token rows, its audit entry and, for detokenize, the guard's
audit entry of the allow commit in one transaction shared with concurrent requests, before the
answer is sent. Anything else (a body that does not validate, an unknown caller, a refusal, an
invalid purpose, an oversize batch) returns None and the route answers it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from core import strict_json
from core.audit.service import EventFields, PreparedEvent, prepare_event
from core.audit.writer import get_audit_writer
from core.authz import Grant, Principal, grant_for_hot_path, permits
from core.errors import RampartError
from core.http import FastHandler, FastPath
from vault import access, service
from vault.endpoints import (
    MAX_BODY_BYTES,
    detokenized_batch_response,
    detokenized_response,
    tokenize_request,
    tokenized_batch_response,
    tokenized_response,
)
from vault.oracles import SCOPE_HEADER, CallerView, own_scope
from vault.records import MAX_BATCH_ITEMS, TokenizeRequest
from vault.schemas import DetokenizeBatchIn, DetokenizeIn, TokenizeBatchIn, TokenizeIn
from vault.types import TYPES

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")
# Preparing a batch is ~10 ms of CPU: off the event loop, so single requests keep flowing.
BATCH_IN_THREADPOOL = 50


def _parse(request: Request, body: bytes, model: type[M]) -> M | None:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return None
    try:
        strict_json.loads(body)  # a repeated key is refused by the route (400)
        return model.model_validate_json(body)
    except (ValueError, RampartError):  # ValidationError is a ValueError
        return None


async def _commit(
    grant: Grant, work: Callable[[Session], tuple[R, EventFields | PreparedEvent]]
) -> R:
    """Run ``work`` in the group commit with the guard's events; its result once committed.
    Events are validated here, before the transaction, when they can be."""
    decided = [prepare_event(**fields) for fields in grant.events]

    def audited(session: Session) -> tuple[R, Sequence[PreparedEvent]]:
        result, event = work(session)
        ready = event if isinstance(event, PreparedEvent) else prepare_event(**event)
        return result, [*decided, ready]

    writer = get_audit_writer()
    try:
        return await writer.submit_work_async(audited)
    except Exception:
        # The guard's allow (detokenize) must be on record even when the access then failed,
        # as the routed guard records it in its own unit of work before the endpoint runs.
        for event in decided:
            await writer.submit_async(event)
        raise


def _draft(
    kind: str, requests: list[TokenizeRequest], caller: Principal, view: CallerView
) -> service.DraftedBatch | service.PreparedBatch:
    """Validate, and draw and encrypt when keys are in memory (the common case): the group
    commit's transaction then only inserts."""
    prepared = service.prepare_batch(kind, requests)
    return service.draft_batch(caller.tenant, prepared, caller.actor, view) or prepared


def _storing(
    draft: service.DraftedBatch | service.PreparedBatch, caller: Principal, view: CallerView
) -> Callable[[Session], tuple[list[service.Outcome], EventFields | PreparedEvent]]:
    if isinstance(draft, service.DraftedBatch):
        drafted = draft
        return lambda session: service.store_drafted(
            session, caller.tenant, drafted, caller.actor, view
        )
    prepared = draft
    return lambda session: service.store_audited(
        session, caller.tenant, prepared, caller.actor, view
    )


def _uncomparable_view(request: Request, caller: Principal, obj: str) -> CallerView | None:
    """The caller's view when its answers hold nothing comparable (no fingerprint, random
    tokens, its own scope): the hot path's case. None: the route answers, as it alone charges
    comparison budgets and checks shared scopes (vault.oracles)."""
    if permits(request, caller, obj, "fingerprint"):
        return None
    return CallerView(own_scope(caller.name), show_fingerprints=False, budget_owner=caller.name)


def _tokenize(kind: str, model: type[TokenizeIn] | type[TokenizeBatchIn]) -> FastHandler:
    obj = f"vault:{kind}"
    single = model is TokenizeIn

    async def handler(request: Request, body: bytes) -> Response | None:
        parsed = _parse(request, body, model)
        if parsed is None or SCOPE_HEADER in request.headers or service.is_deterministic_type(kind):
            return None
        grant = await grant_for_hot_path(request, obj, "tokenize")
        if grant is None:
            return None
        items = [parsed] if isinstance(parsed, TokenizeIn) else parsed.items
        if len(items) > MAX_BATCH_ITEMS:
            return None
        requests = [tokenize_request(item) for item in items]
        caller = grant.principal
        view = _uncomparable_view(request, caller, obj)
        if view is None:
            return None
        try:
            if len(requests) < BATCH_IN_THREADPOOL:
                draft = _draft(kind, requests, caller, view)
            else:
                draft = await run_in_threadpool(_draft, kind, requests, caller, view)
        except RampartError:
            return None
        outcomes = await _commit(grant, _storing(draft, caller, view))
        return tokenized_response(outcomes) if single else tokenized_batch_response(outcomes)

    return handler


def _detokenize(kind: str, model: type[DetokenizeIn] | type[DetokenizeBatchIn]) -> FastHandler:
    obj = f"vault:{kind}"
    single = model is DetokenizeIn

    async def handler(request: Request, body: bytes) -> Response | None:
        parsed = _parse(request, body, model)
        if parsed is None or not access.PURPOSE.match(parsed.purpose):
            return None
        tokens = [parsed.token] if isinstance(parsed, DetokenizeIn) else parsed.tokens
        if len(tokens) > MAX_BATCH_ITEMS:
            return None
        grant = await grant_for_hot_path(request, obj, "detokenize")
        if grant is None:
            return None
        caller = grant.principal
        outcomes = await _commit(
            grant,
            lambda session: access.detokenize_audited(
                session,
                tenant=caller.tenant,
                token_type=kind,
                tokens=tokens,
                purpose=parsed.purpose,
                actor=caller.actor,
            ),
        )
        return detokenized_response(outcomes) if single else detokenized_batch_response(outcomes)

    return handler


def _paths() -> dict[str, FastPath]:
    paths: dict[str, FastPath] = {}
    for token_type in TYPES:
        kind = token_type.value
        for suffix, handler in (
            ("tokens", _tokenize(kind, TokenizeIn)),
            ("tokens/batch", _tokenize(kind, TokenizeBatchIn)),
            ("detokenize", _detokenize(kind, DetokenizeIn)),
            ("detokenize/batch", _detokenize(kind, DetokenizeBatchIn)),
        ):
            path = f"/v1/vault/{kind}/{suffix}"
            paths[path] = FastPath(path, handler, MAX_BODY_BYTES)
    return paths


FAST_PATHS = _paths()
