"""HTTP API of the vault under ``/v1/vault/<type>/...``: one set of routes per token type, so
each route carries its own permission (``vault:pan`` ``detokenize``...) and a caller allowed to
detokenize emails cannot read card numbers. Values travel only in bodies, never in URLs.
Tokenize and detokenize are the lean routes of vault.hot_endpoints; the other uses are here.

A single-item call answers the item's problem with its status, but still commits: the audit
entry of a failed detokenize must survive (PCI DSS 10.2.1.1), so errors are returned, not raised.
"""

# No `from __future__ import annotations`: the per-type permission aliases are local to
# _add_type_routes, and FastAPI must see them as objects, not as strings to resolve globally.

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from core.audit.service import record_event
from core.authz import Principal, authorize, check_access, permits
from core.clock import utcnow
from core.errors import RampartError
from core.http import DbSession
from core.strict_json import StrictJsonRoute
from vault import access, lifecycle
from vault.exceptions import CandidateBudgetExceeded
from vault.oracles import (
    SCOPE_HEADER,
    SCOPE_NAME,
    CallerView,
    alert_event,
    own_scope,
    shared_scope,
)
from vault.records import TokenRecord
from vault.schemas import (
    DeletedBatchOut,
    DeletedItem,
    DeletedOut,
    ErasureOut,
    RevealBatchOut,
    RevealItem,
    RevealOut,
    StatsOut,
    SubjectIn,
    TokenBatchOut,
    TokenIn,
    TokenItem,
    TokenOut,
    TokensIn,
    problem_of,
)
from vault.types import TYPES, TokenType

# 1000 items of the largest accepted value, JSON-escaped, fit; anything bigger is refused whole
# (413) at the edge before it is read into memory (server.registry.BODY_LIMIT_BY_PREFIX).
MAX_BODY_BYTES = 8 * 1024 * 1024
NO_STORE = {"Cache-Control": "no-store"}
PROBLEM_MEDIA_TYPE = "application/problem+json"
JSON_MEDIA_TYPE = "application/json"


router = APIRouter(prefix="/v1/vault", tags=["vault"], route_class=StrictJsonRoute)


def _problem(error: RampartError) -> JSONResponse:
    return JSONResponse(error.to_problem(), status_code=error.status, media_type=PROBLEM_MEDIA_TYPE)


# The optional header, documented in the OpenAPI document of the routes that read it.
SCOPE_PARAMETER: dict[str, Any] = {
    "parameters": [
        {
            "name": SCOPE_HEADER,
            "in": "header",
            "required": False,
            "schema": {"type": "string", "pattern": SCOPE_NAME.pattern},
            "description": "Compute fingerprints and deterministic tokens in this shared "
            "comparison scope (needs `join` on `vault:<type>/scopes/<name>`); default: the "
            "caller's own scope.",
        }
    ]
}


def caller_view(request: Request, caller: Principal, kind: str) -> CallerView:
    """The caller's comparison scope (its own, or the shared one it names in
    ``Rampart-Vault-Scope`` and may ``join``) and whether it may see fingerprints
    (vault.oracles)."""
    name = request.headers.get(SCOPE_HEADER)
    if name is None:
        scope = own_scope(caller.name)
    else:
        scope = shared_scope(name)
        check_access(request, f"vault:{kind}/scopes/{name}", "join")  # 403, audited, if not
    shows = permits(request, caller, f"vault:{kind}", "fingerprint")
    return CallerView(scope, show_fingerprints=shows, budget_owner=caller.name)


def over_budget(
    session: Session,
    error: CandidateBudgetExceeded,
    view: CallerView,
    kind: str,
    operation: str,
    caller: Principal,
) -> JSONResponse:
    """429 for a run of candidates past the caller's budget; its alert commits (nothing else of
    the request was stored)."""
    record_event(session, **alert_event(error, view, kind, operation, caller.actor))
    response = _problem(error)
    response.headers["Retry-After"] = str(error.extensions["retry_after_seconds"])
    return response


def _items(outcomes: list[Any], convert: Callable[[Any], Any], item: type[Any]) -> list[Any]:
    return [
        item(index=i, error=problem_of(o))
        if isinstance(o, RampartError)
        else item(index=i, result=convert(o))
        for i, o in enumerate(outcomes)
    ]


def _add_type_routes(token_type: TokenType) -> None:
    kind = token_type.value
    errors: dict[int | str, dict[str, Any]] = {
        status: {"description": "problem+json"} for status in (404, 410, 413, 422, 429, 503)
    }

    for token_use in _TOKEN_USES:
        _add_token_use_routes(kind, token_use, errors)


def _metadata_batch(session: Session, *, actor: str | None, **kwargs: Any) -> list[Any]:
    return access.metadata_batch(session, **kwargs)  # reading metadata is not audited (but a
    # run of fingerprint reads past the budget is: see over_budget)


@dataclass(frozen=True)
class _TokenUse:
    """A use of a token besides detokenize, routed for one token and for a batch."""

    act: str
    use: Callable[..., list[Any]]  # (session, *, tenant, token_type, tokens, actor)
    out: type[Any]
    convert: Callable[[Any], Any]  # a result -> its answer model
    item: type[Any]
    batch_out: type[Any]
    summary: str
    viewed: bool = False  # answers depend on the caller's comparison view (vault.oracles)


def _add_token_use_routes(
    kind: str, token_use: _TokenUse, errors: dict[int | str, dict[str, Any]]
) -> None:
    """``POST /<kind>/<act>`` for one token and ``/<kind>/<act>/batch`` for up to 1000, both
    guarded by ``vault:<kind>`` ``<act>``."""
    act, use, convert = token_use.act, token_use.use, token_use.convert
    summary = token_use.summary.format(kind=kind)
    Caller = Annotated[Principal, authorize(f"vault:{kind}", act)]

    @router.post(
        f"/{kind}/{act}",
        response_model=token_use.out,
        responses=errors,
        operation_id=f"{act}_{kind}",
        summary=summary,
        openapi_extra=SCOPE_PARAMETER if token_use.viewed else None,
    )
    def one(body: TokenIn, request: Request, session: DbSession, caller: Caller) -> Any:
        outcomes = _use(request, session, caller, [body.token])
        if isinstance(outcomes, Response):
            return outcomes
        (outcome,) = outcomes
        return _problem(outcome) if isinstance(outcome, RampartError) else convert(outcome)

    @router.post(
        f"/{kind}/{act}/batch",
        response_model=token_use.batch_out,
        responses=errors,
        operation_id=f"{act}_{kind}_batch",
        openapi_extra=SCOPE_PARAMETER if token_use.viewed else None,
        summary=f"{summary}: up to 1000 tokens",
    )
    def many(body: TokensIn, request: Request, session: DbSession, caller: Caller) -> Any:
        outcomes = _use(request, session, caller, body.tokens)
        if isinstance(outcomes, Response):
            return outcomes
        return token_use.batch_out(items=_items(outcomes, convert, token_use.item))

    def _use(
        request: Request, session: Session, caller: Principal, tokens: list[str]
    ) -> list[Any] | Response:
        if not token_use.viewed:
            return use(
                session, tenant=caller.tenant, token_type=kind, tokens=tokens, actor=caller.actor
            )
        view = caller_view(request, caller, kind)
        try:
            return use(
                session,
                tenant=caller.tenant,
                token_type=kind,
                tokens=tokens,
                actor=caller.actor,
                view=view,
            )
        except CandidateBudgetExceeded as exc:
            return over_budget(session, exc, view, kind, act, caller)


def _token_out(record: TokenRecord) -> TokenOut:
    return TokenOut.of(record)


_TOKEN_USES = (
    _TokenUse(
        "reveal",
        access.reveal_batch,
        RevealOut,
        RevealOut.of,
        RevealItem,
        RevealBatchOut,
        "A masked {kind} value (cards: at most first 6 and last 4 digits)",
    ),
    _TokenUse(
        "metadata",
        _metadata_batch,
        TokenOut,
        _token_out,
        TokenItem,
        TokenBatchOut,
        "What is known about a {kind} token, without its value",
        viewed=True,
    ),
    _TokenUse(
        "delete",
        access.delete_batch,
        DeletedOut,
        DeletedOut.of,
        DeletedItem,
        DeletedBatchOut,
        "Delete a {kind} token and its ciphertext",
    ),
)

for _token_type in TYPES:
    _add_type_routes(_token_type)


SubjectEraser = Annotated[Principal, authorize("vault:subject", "erase")]
StatsReader = Annotated[Principal, authorize("vault", "stats")]


@router.post("/subjects/erase", response_model=ErasureOut, operation_id="erase_vault_subject")
def erase_subject(body: SubjectIn, session: DbSession, caller: SubjectEraser) -> ErasureOut:
    """Crypto-shred a data subject: destroy the keys of all their values (GDPR Art. 17)."""
    report = lifecycle.erase_subject(
        session, tenant=caller.tenant, subject=body.subject, actor=caller.actor
    )
    return ErasureOut(
        keys_destroyed=report.keys_destroyed, tokens_unreadable=report.tokens_unreadable
    )


@router.get("/stats", response_model=StatsOut, operation_id="vault_stats")
def stats(session: DbSession, caller: StatsReader) -> StatsOut:
    counts = lifecycle.vault_stats(session, utcnow(), tenant=caller.tenant)
    return StatsOut(
        tokens_by_type=counts.tokens_by_type,
        expired_awaiting_purge=counts.expired_awaiting_purge,
        keys_by_kind=counts.keys_by_kind,
    )
