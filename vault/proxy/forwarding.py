"""What both directions share: the JSON body and its declared slots, the SSRF-vetted target,
the relayed (masked) answer, and the audit entries of a forward (never values or tokens)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core import strict_json
from core.audit.service import record_event
from core.database import unit_of_work
from core.errors import RampartError
from core.settings import get_settings
from vault.proxy import transport
from vault.proxy.destinations import PinnedTarget, pin
from vault.proxy.exceptions import MethodNotAllowed, ProxyBodyInvalid
from vault.proxy.fields import Slot, string_slots
from vault.proxy.masking import mask_response_body
from vault.proxy.routes import FieldRule, ProxyRoute

logger = logging.getLogger(__name__)

MAX_PROXY_BODY_BYTES = 1024 * 1024
# Caller headers worth passing on; anything else (cookies, Rampart's own bearer) stays here.
FORWARDED_REQUEST_HEADERS = ("idempotency-key", "x-request-id")
# The upstream's own credentials travel under this name, so they never mix with Rampart's.
UPSTREAM_AUTHORIZATION = "x-upstream-authorization"


@dataclass(frozen=True, slots=True)
class ProxyResponse:
    status: int
    headers: dict[str, str]
    body: bytes = field(repr=False)
    masked: int = 0


@dataclass(slots=True)
class DeclaredValues:
    """The slots of each token type the route declares, in document order."""

    by_type: dict[str, list[tuple[Slot, FieldRule]]]

    @property
    def count(self) -> int:
        return sum(len(slots) for slots in self.by_type.values())


def check_method(route: ProxyRoute, method: str) -> None:
    if method.upper() not in route.methods:
        raise MethodNotAllowed(f"route {route.name} allows {', '.join(route.methods)}")


def parse_body(body: bytes) -> Any:
    try:
        document = strict_json.loads(body)  # a repeated key: 400 duplicate-json-key
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProxyBodyInvalid("the body must be JSON") from exc
    if not isinstance(document, dict | list):
        raise ProxyBodyInvalid("the body must be a JSON object or array")
    return document


def declared_values(document: Any, route: ProxyRoute) -> DeclaredValues:
    by_type: dict[str, list[tuple[Slot, FieldRule]]] = {}
    for rule in route.fields:
        for slot in string_slots(document, rule.path):
            by_type.setdefault(rule.token_type, []).append((slot, rule))
    return DeclaredValues(by_type)


def vetted_target(route: ProxyRoute) -> PinnedTarget:
    settings = get_settings()
    return pin(
        route.destination,
        allow_private=settings.vault_proxy_allow_private_networks,
        allow_http=settings.vault_proxy_allow_http,
    )


def forwarded_headers(caller_headers: Mapping[str, str], route: ProxyRoute) -> dict[str, str]:
    headers = {"content-type": "application/json", "rampart-proxy-route": route.name}
    for name in FORWARDED_REQUEST_HEADERS:
        if name in caller_headers:
            headers[name] = caller_headers[name]
    if UPSTREAM_AUTHORIZATION in caller_headers:
        headers["authorization"] = caller_headers[UPSTREAM_AUTHORIZATION]
    return headers


def relay(
    target: PinnedTarget,
    *,
    method: str,
    path: str,
    query: str,
    document: Any,
    headers: Mapping[str, str],
) -> ProxyResponse:
    """Send the rewritten document; answer the upstream's status, relayed headers and its body
    with any card number masked."""
    settings = get_settings()
    answer = transport.send(
        target,
        method=method,
        path=path,
        query=query,
        body=json.dumps(document, separators=(",", ":")).encode(),
        headers=headers,
        timeout=settings.vault_proxy_timeout,
        max_response_bytes=settings.vault_proxy_max_response_bytes,
    )
    body, masked = mask_response_body(answer.body, answer.headers.get("content-type", ""))
    return ProxyResponse(answer.status, answer.headers, body, masked)


def relay_audited(
    route: ProxyRoute,
    target: PinnedTarget,
    *,
    method: str,
    path: str,
    query: str,
    document: Any,
    headers: Mapping[str, str],
    audit_details: Mapping[str, Any],
    actor: str | None,
) -> ProxyResponse:
    """:func:`relay`, then one ``vault.proxy.forwarded`` entry with the upstream's outcome
    (``audit_details`` name the token ids and, outbound, the purpose)."""
    try:
        answer = relay(
            target, method=method, path=path, query=query, document=document, headers=headers
        )
    except RampartError as exc:
        audit_forward(
            route,
            event_type="vault.proxy.forwarded",
            outcome="failure",
            details={**audit_details, **failure_details(exc)},
            actor=actor,
        )
        raise
    audit_forward(
        route,
        event_type="vault.proxy.forwarded",
        outcome="success",
        details={
            **audit_details,
            "upstream_status": answer.status,
            "masked_in_answer": answer.masked,
        },
        actor=actor,
    )
    return answer


def audit_forward(
    route: ProxyRoute,
    *,
    event_type: str,
    outcome: str,
    details: Mapping[str, Any],
    actor: str | None,
) -> None:
    """One ledger entry in its own transaction: the forward has already happened (or been
    refused), so a failure to record it must not be reported as the forward failing."""
    entry = {"route": route.name, "direction": route.direction, **details}
    try:
        with unit_of_work() as session:
            record_event(
                session,
                event_type=event_type,
                outcome=outcome,
                resource=f"vault:proxy:{route.name}",
                details=entry,
                actor=actor,
            )
    except RampartError:
        # The values' release was audited before the forward (vault.detokenized / tokenized
        # and vault.proxy.forwarding); this entry only adds the upstream's outcome.
        logger.exception("vault proxy outcome not recorded", extra={"route": route.name})


def failure_details(error: RampartError) -> dict[str, Any]:
    return {"reason": error.slug, "status": error.status}
