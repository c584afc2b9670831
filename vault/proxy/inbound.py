"""Inbound: an external party (a gateway webhook) posts JSON signed with the route's secret; the
declared fields are tokenized and the body goes on to the route's registered upstream. Without
a valid signature nothing is tokenized, so the route is no open tokenization relay."""

from __future__ import annotations

import time
from collections.abc import Mapping

from core.audit.service import record_event
from core.database import unit_of_work
from core.errors import RampartError
from core.settings import get_settings
from vault import service
from vault.ids import public_id
from vault.proxy import signatures
from vault.proxy.destinations import PinnedTarget
from vault.proxy.exceptions import RouteNotFound, SignatureInvalid
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
from vault.proxy.routes import ProxyRoute, get_route, signing_secret
from vault.proxy.transport import join_path
from vault.records import TokenizeRequest


def forward_inbound(
    *,
    tenant: str,
    route_name: str,
    method: str,
    path: str,
    query: str,
    body: bytes,
    headers: Mapping[str, str],
) -> ProxyResponse:
    """Verify the signature, tokenize the declared fields, forward, relay the answer."""
    # The query is forwarded too, so it is signed with the path: a replay cannot change it.
    signed_path = f"{path}?{query}" if query else path
    route = _authenticated_route(tenant, route_name, method, signed_path, body, headers)
    actor = f"proxy:{route.name}"
    try:
        check_method(route, method)
        document = parse_body(body)
        declared = declared_values(document, route)
        target = vetted_target(route)
        join_path(target.base_url.path, path)
        ids = _tokenize(route, declared, target, actor)
    except RampartError as exc:
        audit_forward(
            route,
            event_type="vault.proxy.refused",
            outcome="failure",
            details=failure_details(exc),
            actor=actor,
        )
        raise
    answer = relay_audited(
        route,
        target,
        method=method,
        path=path,
        query=query,
        document=document,
        headers=forwarded_headers(headers, route),
        audit_details={"ids": ids},
        actor=actor,
    )
    return answer


def _authenticated_route(
    tenant: str, name: str, method: str, path: str, body: bytes, headers: Mapping[str, str]
) -> ProxyRoute:
    """The route, once the request's signature checks out. An unknown route answers like a bad
    signature (401), so probing does not reveal which routes exist."""
    with unit_of_work(read_only=True) as session:
        try:
            route = get_route(session, tenant=tenant, name=name, direction="inbound")
            secret = signing_secret(session, route)
        except RouteNotFound as exc:
            raise SignatureInvalid("the signature does not match") from exc
    try:
        signatures.verify(
            secret,
            headers.get(signatures.SIGNATURE_HEADER),
            method=method,
            path=path,
            body=body,
            now=time.time(),
            tolerance_seconds=get_settings().vault_proxy_signature_tolerance_seconds,
        )
    except SignatureInvalid as exc:
        audit_forward(
            route,
            event_type="vault.proxy.refused",
            outcome="denied",
            details=failure_details(exc),
            actor=f"proxy:{route.name}",
        )
        raise
    return route


def _tokenize(
    route: ProxyRoute, declared: DeclaredValues, target: PinnedTarget, actor: str
) -> list[str]:
    """Tokenize every declared slot, all or nothing: an item failing rolls back the tokens
    already issued for this request (raised inside the unit of work)."""
    ids: list[str] = []
    tokens: list[tuple[Slot, str]] = []
    with unit_of_work() as session:
        for token_type, slots in declared.by_type.items():
            outcomes = service.tokenize_batch(
                session,
                tenant=route.tenant,
                token_type=token_type,
                items=[TokenizeRequest(slot.value, format=rule.format) for slot, rule in slots],
                actor=actor,
            )
            for (slot, _rule), outcome in zip(slots, outcomes, strict=True):
                if isinstance(outcome, RampartError):
                    raise _at_field(outcome, slot.path)
                ids.append(public_id(outcome.id))
                tokens.append((slot, outcome.token))
        record_event(
            session,
            event_type="vault.proxy.forwarding",
            resource=f"vault:proxy:{route.name}",
            details={
                "route": route.name,
                "direction": route.direction,
                "ids": ids,
                "destination": target.host_header,
                "address": str(target.address),
            },
            actor=actor,
        )
    for slot, token in tokens:
        slot.replace(token)
    return ids


def _at_field(error: RampartError, path: str) -> RampartError:
    """The item's own problem (422 for a malformed value...), naming the field it came from."""
    return type(error)(f"{path}: {error.detail}", **{**error.extensions, "field": path})
