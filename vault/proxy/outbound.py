"""Outbound: a service posts a body holding tokens; the route's declared fields are detokenized
(one detokenize_batch per token type, for the route's purpose) and the body goes on to the
allow-listed destination. The caller gets the upstream's answer, card numbers masked."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from core.audit.service import record_event
from core.authz import Principal
from core.database import unit_of_work
from core.errors import RampartError
from vault import access
from vault.ids import public_id
from vault.proxy.destinations import PinnedTarget
from vault.proxy.fields import Slot
from vault.proxy.forwarding import (
    DeclaredValues,
    ProxyResponse,
    audit_forward,
    check_method,
    declared_values,
    failure_details,
    forwarded_headers,
    parse_body,
    relay_audited,
    vetted_target,
)
from vault.proxy.routes import ProxyRoute, get_route
from vault.proxy.transport import join_path


def forward_outbound(
    *,
    caller: Principal,
    route_name: str,
    method: str,
    path: str,
    query: str,
    body: bytes,
    caller_headers: Mapping[str, str],
    may_detokenize: Callable[[str], None],
) -> ProxyResponse:
    """Forward ``body`` with its declared tokens replaced by their values.

    ``may_detokenize(token_type)`` raises unless the caller may detokenize that type: the
    route permission alone never reveals a type the caller could not detokenize directly.
    Nothing is revealed before the route, the method, the body, the permissions, the path and
    the destination's addresses have all been accepted.
    """
    with unit_of_work(read_only=True) as session:
        route = get_route(session, tenant=caller.tenant, name=route_name, direction="outbound")
    check_method(route, method)
    document = parse_body(body)
    declared = declared_values(document, route)
    for token_type in declared.by_type:
        may_detokenize(token_type)
    target = _vetted(route, path, caller.subject)
    ids = _reveal(route, caller, declared, target)
    answer = relay_audited(
        route,
        target,
        method=method,
        path=path,
        query=query,
        document=document,
        headers=forwarded_headers(caller_headers, route),
        audit_details={"ids": ids, "purpose": route.purpose},
        actor=caller.actor,
    )
    return answer


def _vetted(route: ProxyRoute, path: str, actor: str) -> PinnedTarget:
    try:
        target = vetted_target(route)
        join_path(target.base_url.path, path)
    except RampartError as exc:
        audit_forward(
            route,
            event_type="vault.proxy.refused",
            outcome="failure",
            details=failure_details(exc),
            actor=actor,
        )
        raise
    return target


def _reveal(
    route: ProxyRoute, caller: Principal, declared: DeclaredValues, target: PinnedTarget
) -> list[str]:
    """Detokenize every declared slot in place; commits the detokenize audit entries and the
    forward's intent before anything leaves, so a crash mid-forward still leaves a trace."""
    refused: RampartError | None = None
    ids: list[str] = []
    values: list[tuple[Slot, str]] = []
    with unit_of_work() as session:
        for token_type, slots in declared.by_type.items():
            outcomes = access.detokenize_batch(
                session,
                tenant=caller.tenant,
                token_type=token_type,
                tokens=[slot.value for slot, _rule in slots],
                purpose=route.purpose or "",
                actor=caller.actor,
            )
            for (slot, _rule), outcome in zip(slots, outcomes, strict=True):
                if isinstance(outcome, RampartError):
                    refused = refused or _at_field(outcome, slot.path)
                else:
                    ids.append(public_id(outcome.id))
                    values.append((slot, outcome.value))
        details: dict[str, Any] = {
            "ids": ids,
            "purpose": route.purpose,
            "destination": target.host_header,
            "address": str(target.address),
        }
        if refused is not None:
            details.update(failure_details(refused))
        record_event(
            session,
            event_type="vault.proxy.refused" if refused else "vault.proxy.forwarding",
            outcome="failure" if refused else "success",
            resource=f"vault:proxy:{route.name}",
            details={"route": route.name, "direction": route.direction, **details},
            actor=caller.actor,
        )
    if refused is not None:
        raise refused  # after the commit: the failed detokenize stays audited
    for slot, value in values:
        slot.replace(value)
    return ids


def _at_field(error: RampartError, path: str) -> RampartError:
    """The item's own problem (404, 410, 422...), naming the field it came from."""
    return type(error)(f"{path}: {error.detail}", **{**error.extensions, "field": path})
