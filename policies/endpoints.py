"""HTTP API of authorization: the decision API (``/v1/authz/check``, ``/v1/authz/check-batch``)
and the policy store (``/v1/policies``: show, history, apply, rollback). Every route is guarded.

The ``rule`` of a decision (explain) is answered only to callers allowed ``authz`` ``explain``.
"""

# No `from __future__ import annotations`: FastAPI must see the Annotated guards as objects.

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response

from core.authz import Principal, authorize
from core.clock import utcnow
from core.http import DbSession
from core.strict_json import StrictJsonRoute
from policies import service
from policies.enforcer import DecisionContext
from policies.exceptions import BatchTooLarge
from policies.principals import principal_context, principal_subjects, subject_name
from policies.runtime import DecisionView, runtime
from policies.schemas import (
    MAX_BATCH,
    CheckBatchIn,
    CheckBatchOut,
    CheckContext,
    CheckIn,
    CheckOut,
    PolicyApplyIn,
    PolicyChangeOut,
    PolicyOut,
    PolicyRollbackIn,
    PolicyVersionOut,
)
from policies.sync import PolicyChange

router = APIRouter(tags=["authorization"], route_class=StrictJsonRoute)

AuthzChecker = Annotated[Principal, authorize("authz", "check")]
PolicyReader = Annotated[Principal, authorize("policies", "read")]
PolicyApplier = Annotated[Principal, authorize("policies", "apply")]
PolicyRollbacker = Annotated[Principal, authorize("policies", "rollback")]


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client is not None else None


def _may_explain(view: DecisionView, principal: Principal, request: Request) -> bool:
    ctx = principal_context(view, principal, now=utcnow(), ip=_client_ip(request))
    return view.decide(
        principal_subjects(principal), principal.tenant, "authz", "explain", ctx
    ).allowed


def _decide_all(
    view: DecisionView, checks: list[CheckIn], *, explain: bool
) -> list[dict[str, Any]]:
    now = utcnow()
    contexts: dict[tuple[Any, ...], DecisionContext] = {}
    results: list[dict[str, Any]] = []
    for check in checks:
        context: CheckContext = check.context
        key = (tuple(context.amr), context.auth_time, context.ip, context.client_id)
        ctx = contexts.get(key)
        if ctx is None:
            ctx = contexts[key] = view.context(
                now=now,
                amr=context.amr,
                auth_time=context.auth_time,
                ip=context.ip,
                client_id=context.client_id,
            )
        subjects = [check.subject, *(f"role:{role}" for role in check.roles)]
        decision = view.decide(subjects, check.domain, check.object, check.action, ctx)
        result: dict[str, Any] = {
            "allowed": decision.allowed,
            "policy_version": decision.policy_version,
        }
        if explain:
            result["rule"] = decision.rule_line
        results.append(result)
    return results


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


@router.post(
    "/v1/authz/check", response_model=CheckOut, operation_id="authz_check", tags=["authorization"]
)
def check(body: CheckIn, principal: AuthzChecker, request: Request) -> Response:
    """One decision: ``allowed`` and the ``policy_version`` it was taken on."""
    with runtime.view() as view:
        explain = _may_explain(view, principal, request)
        (result,) = _decide_all(view, [body], explain=explain)
    return _json(result)


@router.post(
    "/v1/authz/check-batch",
    response_model=CheckBatchOut,
    operation_id="authz_check_batch",
    tags=["authorization"],
)
def check_batch(body: CheckBatchIn, principal: AuthzChecker, request: Request) -> Response:
    """Up to 1000 decisions, all on one policy version."""
    if len(body.checks) > MAX_BATCH:
        raise BatchTooLarge(f"at most {MAX_BATCH} checks per call, got {len(body.checks)}")
    with runtime.view() as view:
        explain = _may_explain(view, principal, request)
        results = _decide_all(view, body.checks, explain=explain)
        version = view.version
    return _json({"policy_version": version, "results": results})


@router.get("/v1/policies", response_model=PolicyOut, operation_id="policy_show")
def show_policy(
    db: DbSession, _principal: PolicyReader, version: Annotated[int | None, Query(ge=0)] = None
) -> PolicyOut:
    """The lines of the newest version, or of ``version``."""
    snapshot = service.snapshot(db, version)
    return PolicyOut(version=snapshot.version, lines=list(snapshot.lines))


@router.get(
    "/v1/policies/versions", response_model=list[PolicyVersionOut], operation_id="policy_history"
)
def policy_history(
    db: DbSession,
    _principal: PolicyReader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[PolicyVersionOut]:
    """Newest first: who changed the policy, when and why."""
    return [
        PolicyVersionOut.model_validate(info, from_attributes=True)
        for info in service.history(db, limit)
    ]


@router.get(
    "/v1/policies/versions/{version}",
    response_model=PolicyVersionOut,
    operation_id="policy_version",
)
def policy_version(db: DbSession, _principal: PolicyReader, version: int) -> PolicyVersionOut:
    return PolicyVersionOut.model_validate(service.version_info(db, version), from_attributes=True)


def _change_out(db: DbSession, change: PolicyChange | None) -> PolicyChangeOut:
    if change is None:
        return PolicyChangeOut(
            changed=False, version=service.head_version(db), lines_added=0, lines_removed=0
        )
    return PolicyChangeOut(
        changed=True,
        version=change.version,
        lines_added=len(change.added),
        lines_removed=len(change.removed),
    )


@router.post("/v1/policies", response_model=PolicyChangeOut, operation_id="policy_apply")
def apply_policy(body: PolicyApplyIn, db: DbSession, principal: PolicyApplier) -> PolicyChangeOut:
    """Make ``lines`` the policy: a new version (audited), enforced by every replica within 1 s."""
    change = service.apply_policy(db, body.lines, actor=subject_name(principal), reason=body.reason)
    return _change_out(db, change)


@router.post(
    "/v1/policies/rollback", response_model=PolicyChangeOut, operation_id="policy_rollback"
)
def rollback_policy(
    body: PolicyRollbackIn, db: DbSession, principal: PolicyRollbacker
) -> PolicyChangeOut:
    """A new version equal to ``version``."""
    change = service.rollback(db, body.version, actor=subject_name(principal), reason=body.reason)
    return _change_out(db, change)
