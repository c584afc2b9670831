"""Zero-trust guard for every `/v1` route: authenticate the bearer, then ask the decider.

Domains declare ``Annotated[Principal, authorize("vault:pan", "detokenize")]``; the composition
(server/) plugs in the real authenticator (the IdP's token verifier) and decider (the Casbin
enforcer) with :func:`configure`. Until it does, every guarded route fails closed (503).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from core.audit.service import EventFields
from core.clock import utcnow
from core.context import current, set_current
from core.errors import Forbidden, LoginRequired, ServiceUnavailable, Unauthenticated


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

    @property
    def actor(self) -> str:
        """How the ledger names what this caller did: a service by its client id, a person as
        ``user:<sub>`` (a bare user id would not say it is a person, PCI DSS 10.2.1)."""
        return self.subject if self.kind == "service" else self.name


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
# The audit entry a decision needs, if any, for the caller to commit with its own writes.
DecisionEvent = Callable[[AccessRequest, Decision], EventFields | None]


@dataclass
class _Configuration:
    authenticator: Authenticator | None = None
    decider: Decider | None = None
    recorder: DecisionRecorder | None = None
    # Answers from memory only (no database, no signature check) or None: lean routes use it.
    cached_authenticator: Authenticator | None = None
    decision_event: DecisionEvent | None = None
    # The caller of a browser page: its complete login session (cookie), never a bearer token.
    session_authenticator: Authenticator | None = None


_configured = _Configuration()


def configure(
    authenticator: Authenticator,
    decider: Decider,
    recorder: DecisionRecorder | None = None,
    *,
    cached_authenticator: Authenticator | None = None,
    decision_event: DecisionEvent | None = None,
    session_authenticator: Authenticator | None = None,
) -> None:
    """Plug in the verifier and the enforcer (done once by the server's composition).
    ``decision_event`` must describe what ``recorder`` records, for :func:`grant_access`;
    ``session_authenticator`` names the caller of a page (:func:`authorize_page`)."""
    _configured.authenticator = authenticator
    _configured.decider = decider
    _configured.recorder = recorder
    _configured.cached_authenticator = cached_authenticator
    _configured.decision_event = decision_event
    _configured.session_authenticator = session_authenticator


def reset() -> None:
    global _configured
    _configured = _Configuration()


def is_configured() -> bool:
    return _configured.authenticator is not None and _configured.decider is not None


def _origin(request: Request) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    client = request.scope.get("client")
    return _address(client[0]) if client else None


@functools.lru_cache(maxsize=4096)
def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    # Parsed once per peer: a service calls from the same few addresses all day.
    try:
        return ipaddress.ip_address(host)
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
        raise _refusal(request)
    return _decide(request, principal, obj, act)


def check_page_access(
    request: Request, obj: str, act: str, *, sign_in: str = "/login"
) -> Principal:
    """:func:`check_access` for a browser page: the caller is the browser's complete login
    (cookie), decided by the same policies; no login raises :class:`LoginRequired` (the
    browser goes to ``sign_in``)."""
    config = _configured
    if config.session_authenticator is None or config.decider is None:
        raise ServiceUnavailable("authorization is not configured; refusing (fail closed)")
    principal = config.session_authenticator(request)
    if principal is None:
        raise LoginRequired("log in to see this page", sign_in=sign_in)
    return _decide(request, principal, obj, act)


def _decide(request: Request, principal: Principal, obj: str, act: str) -> Principal:
    config = _configured
    assert config.decider is not None  # noqa: S101 - both callers checked it
    access = AccessRequest(principal, obj, act, _origin(request))
    decision = config.decider(access)
    if config.recorder is not None:
        config.recorder(access, decision)
    if not decision.allowed:
        raise Forbidden(f"{act} on {obj} is not allowed for this caller")
    return principal


def _refusal(request: Request) -> Unauthenticated:
    # The authenticator may have left why it refused a presented token (server.security).
    refusal = getattr(request.state, "authentication_refusal", None)
    if isinstance(refusal, Unauthenticated):
        return refusal
    return Unauthenticated("a valid bearer access token is required")


def permits(request: Request, principal: Principal, obj: str, act: str) -> bool:
    """Whether an authenticated caller may also ``act`` on ``obj``: for a part of an answer only
    some callers may see (the vault's fingerprints), never to let a request through. Nothing is
    recorded (the request's own guard did); unconfigured means no (fail closed)."""
    decider = _configured.decider
    if decider is None:
        return False
    return decider(AccessRequest(principal, obj, act, _origin(request))).allowed


async def authorize_request(request: Request, obj: str, act: str) -> Principal:
    """:func:`check_access` in the threadpool; the verified caller becomes the acting context
    of the request (set here, on the request's own context, so the endpoint and every audit
    entry it writes name who acted, not "anonymous")."""
    return _acting(request, await run_in_threadpool(check_access, request, obj, act))


async def authorize_page_request(
    request: Request, obj: str, act: str, *, sign_in: str = "/login"
) -> Principal:
    """:func:`authorize_request` for a page: :func:`check_page_access` in the threadpool."""
    principal = await run_in_threadpool(
        functools.partial(check_page_access, request, obj, act, sign_in=sign_in)
    )
    return _acting(request, principal)


def _acting(request: Request, principal: Principal) -> Principal:
    request.state.principal = principal
    set_current(replace(current(), actor=principal.name))
    return principal


@dataclass(frozen=True, slots=True)
class Grant:
    """An allowed request of a lean route: who, and the decision's audit entry (if it needs
    one) that the route commits together with its own writes, before answering."""

    principal: Principal
    events: tuple[EventFields, ...]


async def grant_access(request: Request, obj: str, act: str) -> Grant:
    """The guard of a lean route (:func:`declare_permission`), on the event loop: the caller
    from memory when the cached authenticator knows it (else the full one, in the threadpool),
    decided like :func:`authorize` does; refusals raise as there (503 unconfigured, 401, 403,
    a refusal recorded first). An allow that must be audited is not recorded here but comes
    back in the grant, for the route to commit with its own writes (one transaction)."""
    config = _configured
    if config.authenticator is None or config.decider is None:
        raise ServiceUnavailable("authorization is not configured; refusing (fail closed)")
    principal = config.cached_authenticator(request) if config.cached_authenticator else None
    if principal is None:
        principal = await run_in_threadpool(config.authenticator, request)
        if principal is None:
            raise _refusal(request)
    access = AccessRequest(principal, obj, act, _origin(request))
    decision = config.decider(access)
    events: tuple[EventFields, ...] = ()
    if config.recorder is not None:
        if decision.allowed and config.decision_event is not None:
            event = config.decision_event(access, decision)
            events = (event,) if event is not None else ()
        else:  # a refusal, or an allow only the recorder knows how to record: on its own
            await run_in_threadpool(config.recorder, access, decision)
    if not decision.allowed:
        raise Forbidden(f"{act} on {obj} is not allowed for this caller")
    return Grant(_acting(request, principal), events)


def declare_permission(endpoint: Callable[..., Any], obj: str, act: str) -> None:
    """Name the permission a lean route's endpoint checks itself with :func:`grant_access`, for
    :func:`permission_of` (tests/policies/test_routes_protected.py reads it)."""
    endpoint.rampart_permission = (obj, act)  # type: ignore[attr-defined]


def authorize(obj: str, act: str) -> Any:
    """A FastAPI dependency that yields the caller's :class:`Principal` or refuses the request."""

    async def guard(request: Request) -> Principal:
        return await authorize_request(request, obj, act)

    return _guard(guard, obj, act, "authorize")


def authorize_page(obj: str, act: str, *, sign_in: str = "/login") -> Any:
    """:func:`authorize` for a server-rendered page: the caller is the browser's login session,
    and a browser without one is sent to ``sign_in`` (:class:`LoginRequired`), then back."""

    async def guard(request: Request) -> Principal:
        return await authorize_page_request(request, obj, act, sign_in=sign_in)

    return _guard(guard, obj, act, "authorize_page")


def _guard(guard: Callable[[Request], Any], obj: str, act: str, kind: str) -> Any:
    guard.rampart_permission = (obj, act)  # type: ignore[attr-defined]
    guard.__name__ = f"{kind}_{obj}_{act}".replace(":", "_").replace("*", "any")
    return Depends(guard)


def permission_of(dependency: Callable[..., Any]) -> tuple[str, str] | None:
    """The (object, action) a guard dependency (or a lean route's endpoint) checks; None for
    any other callable."""
    value = getattr(dependency, "rampart_permission", None)
    return value if isinstance(value, tuple) else None
