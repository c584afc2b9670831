"""Zero-trust guard for every `/v1` route: authenticate the bearer, then ask the decider.

Domains declare ``Annotated[Principal, authorize("vault:pan", "detokenize")]``; the composition
(server/) plugs in the real authenticator (the IdP's token verifier) and decider (the Casbin
enforcer) with :func:`configure`. Until it does, every guarded route fails closed (503).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from core.clock import utcnow
from core.context import current, set_current
from core.errors import Forbidden, ServiceUnavailable, Unauthenticated


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as proven by a verified access token."""

    subject: str
    kind: Literal["user", "service"]
    client_id: str | None = None
    roles: tuple[str, ...] = ()
    scopes: frozenset[str] = frozenset()
    amr: tuple[str, ...] = ()
    acr: str | None = None
    auth_time: datetime | None = None
    token_id: str | None = None
    tenant: str = "rampart"

    @property
    def name(self) -> str:
        """``client:<client_id>`` for a service, ``user:<sub>`` for a person."""
        if self.kind == "service":
            return f"client:{self.client_id or self.subject}"
        return f"user:{self.subject}"


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """Everything a zero-trust decision may look at."""

    principal: Principal
    obj: str
    act: str
    origin: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    policy_version: int
    rule: str | None = None
    reason: str | None = None


Authenticator = Callable[[Request], Principal | None]
Decider = Callable[[AccessRequest], Decision]
DecisionRecorder = Callable[[AccessRequest, Decision], None]


@dataclass
class _Configuration:
    authenticator: Authenticator | None = None
    decider: Decider | None = None
    recorder: DecisionRecorder | None = None


_configured = _Configuration()


def configure(
    authenticator: Authenticator, decider: Decider, recorder: DecisionRecorder | None = None
) -> None:
    """Plug in the verifier and the enforcer (done once by the server's composition)."""
    _configured.authenticator = authenticator
    _configured.decider = decider
    _configured.recorder = recorder


def reset() -> None:
    global _configured
    _configured = _Configuration()


def is_configured() -> bool:
    return _configured.authenticator is not None and _configured.decider is not None


def _origin(request: Request) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if request.client is None:
        return None
    try:
        return ipaddress.ip_address(request.client.host)
    except ValueError:
        return None


def check_access(request: Request, obj: str, act: str) -> Principal:
    """Authenticate the caller and decide ``act`` on ``obj`` (sync: may read the database).

    For permissions known only inside an endpoint (a token type found in a body); routes
    declare theirs with :func:`authorize`.
    """
    config = _configured
    if config.authenticator is None or config.decider is None:
        raise ServiceUnavailable("authorization is not configured; refusing (fail closed)")
    principal = config.authenticator(request)
    if principal is None:
        raise Unauthenticated("a valid bearer access token is required")
    access = AccessRequest(principal, obj, act, _origin(request))
    decision = config.decider(access)
    if config.recorder is not None:
        config.recorder(access, decision)
    if not decision.allowed:
        raise Forbidden(f"{act} on {obj} is not allowed for this caller")
    return principal


async def authorize_request(request: Request, obj: str, act: str) -> Principal:
    """:func:`check_access` in the threadpool; the verified caller becomes the acting context
    of the request (set here, on the request's own context, so the endpoint and every audit
    entry it writes name who acted, not "anonymous")."""
    principal = await run_in_threadpool(check_access, request, obj, act)
    request.state.principal = principal
    set_current(replace(current(), actor=principal.name))
    return principal


def authorize(obj: str, act: str) -> Any:
    """A FastAPI dependency that yields the caller's :class:`Principal` or refuses the request."""

    async def guard(request: Request) -> Principal:
        return await authorize_request(request, obj, act)

    guard.rampart_permission = (obj, act)  # type: ignore[attr-defined]
    guard.__name__ = f"authorize_{obj}_{act}".replace(":", "_").replace("*", "any")
    return Depends(guard)


def permission_of(dependency: Callable[..., Any]) -> tuple[str, str] | None:
    """The (object, action) a guard dependency checks; None for any other callable."""
    value = getattr(dependency, "rampart_permission", None)
    return value if isinstance(value, tuple) else None
