"""Composition of zero trust: plugs the IdP's access-token verifier, the policy enforcer and the
decision audit into core.authz, and runs the policy syncer, for the server's lifetime.

* authenticate: RFC 9068 checks by iam.oauth2.verification against this issuer's published keys
  (audience: the issuer), then revocation by ``jti`` or of all its client's or user's tokens
  (at once for revocations by this process, within REVOCATION_CACHE_SECONDS for another's;
  token_store); users get their roles from the accounts.
* decide: the process's policy runtime (policies.runtime), kept current by policies.sync.
* record: every deny, and allows on sensitive objects, go to the audit ledger in their own unit
  of work, so the entry commits even though the refused request rolls its own transaction back.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from compliance.gdpr.portal.sessions import portal_principal
from core import authz
from core.audit.service import EventFields, record_event
from core.authz import AccessRequest, Decision, Principal
from core.database import unit_of_work
from core.errors import Unauthenticated
from core.logging import get_logger
from core.settings import Settings, get_settings
from iam.accounts.service import get_user
from iam.keys.service import verification_key
from iam.oauth2.token_store import (
    AccessTokenRef,
    guard_revocations,
    is_token_revoked,
    is_token_revoked_for_guard,
)
from iam.oauth2.verification import TokenRejected, verify_access_token
from iam.oauth2.verified_cache import verified_tokens
from iam.sessions.service import current_login
from policies.principals import principal_context, principal_subjects, subject_name
from policies.runtime import runtime
from policies.store import DatabasePolicyStore
from policies.sync import PolicySyncer

log = get_logger(__name__)

_BEARER = re.compile(r"Bearer +([A-Za-z0-9._~+/-]+=*)\s*", re.IGNORECASE)
# Allows on these are audited too (PCI DSS 10.2.1: access to cardholder data, key and policy
# changes, evidence leaving the system). Matched on the action, or the object for policies.
SENSITIVE_ACTIONS = frozenset({"detokenize", "reveal", "rotate", "export", "erase"})
SENSITIVE_OBJECT_PREFIXES = ("policies", "keys")
SENSITIVE_OBJECT_READS = frozenset({"read", "list"})


# Why a presented token is refused, told to its holder: the checks that read claims run only
# after the signature verified, so a forger learns "bad signature" (or "malformed", "unknown
# key") and nothing about what a genuine token would have to say.
_REFUSALS: dict[str, tuple[str, str]] = {
    "expired": ("expired", "the access token has expired"),
    "not yet valid": ("not-yet-valid", "the access token is not valid yet"),
    "issued in the future": ("not-yet-valid", "the access token is not valid yet"),
    "wrong audience": ("wrong-audience", "the access token is not addressed to this server"),
    "wrong issuer": ("wrong-issuer", "the access token was issued by another issuer"),
    "revoked": ("revoked", "the access token has been revoked"),
    "unknown or disabled user": ("revoked", "the access token's user is no longer active"),
    "bad signature": ("bad-signature", "the access token's signature does not verify"),
    "algorithm not allowed": ("bad-signature", "the access token's signature does not verify"),
    "algorithm does not match the key": (
        "bad-signature",
        "the access token's signature does not verify",
    ),
    "unknown kid": ("unknown-key", "the access token is signed by a key this server lacks"),
}
_MALFORMED = ("malformed", "the bearer value is not an access token of this server")


def refused(reason: str) -> Unauthenticated:
    """The 401 for a presented token refused for ``reason`` (a TokenRejected reason): a short
    category in the problem's ``reason`` member and a sentence in ``detail``, never any of the
    token's content."""
    category, detail = _REFUSALS.get(reason, _MALFORMED)
    return Unauthenticated(detail, reason=category)


def _refuse(request: Request, reason: str) -> Principal | None:
    """No caller (the authenticator's contract), and why, for the guard's 401 (core.authz)."""
    log.info("access token rejected", reason=reason)
    request.state.authentication_refusal = refused(reason)
    return None


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    match = _BEARER.fullmatch(header)
    return match.group(1) if match else None


def _roles_claim(claims: dict[str, Any]) -> tuple[str, ...] | None:
    roles = claims.get("roles")
    if isinstance(roles, list) and all(isinstance(role, str) for role in roles):
        return tuple(roles)
    return None


def _auth_time(claims: dict[str, Any]) -> datetime | None:
    value = claims.get("auth_time")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return None


def principal_from_claims(claims: dict[str, Any], roles: tuple[str, ...]) -> Principal:
    """The Principal of verified RFC 9068 claims; a client acting for itself is a service."""
    client_id = str(claims.get("client_id") or "")
    subject = str(claims["sub"])
    is_service = subject == client_id and "auth_time" not in claims
    amr = claims.get("amr")
    acr = claims.get("acr")
    return Principal(
        subject=subject,
        kind="service" if is_service else "user",
        client_id=client_id or None,
        roles=roles,
        scopes=frozenset(str(claims.get("scope", "")).split()),
        amr=tuple(str(method) for method in amr) if isinstance(amr, list) else (),
        acr=acr if isinstance(acr, str) else None,
        auth_time=_auth_time(claims),
        token_id=str(claims.get("jti") or "") or None,
    )


def authenticate(request: Request) -> Principal | None:
    """The caller of a verified, unrevoked access token for this issuer; None otherwise (for a
    presented token, with the reason left for the guard's 401: :func:`_refuse`)."""
    token = bearer_token(request)
    if token is None:
        return None
    settings = get_settings()
    with unit_of_work(read_only=True) as db:
        try:
            verified = verify_access_token(
                token,
                keys=lambda kid: verification_key(db, kid),
                issuer=settings.issuer,
                audience=settings.issuer,
            )
        except TokenRejected as exc:
            return _refuse(request, exc.reason)
        claims = verified.claims
        if is_token_revoked_for_guard(db, AccessTokenRef.from_claims(claims)):
            return _refuse(request, "revoked")
        roles = _roles_claim(claims)
        is_user = claims["sub"] != claims.get("client_id") or "auth_time" in claims
        if roles is None and is_user:
            roles = _user_roles(db, str(claims["sub"]))
            if roles is None:
                return _refuse(request, "unknown or disabled user")
            principal = principal_from_claims(claims, roles)
        else:  # everything about the caller is in the signed token: memory may answer next time
            principal = principal_from_claims(claims, roles or ())
            verified_tokens.remember(token, principal, claims.get("exp"))
    return principal


def authenticate_session(request: Request) -> Principal | None:
    """The caller of a page: this browser's complete login (password and, where a role needs
    it, a second factor), with the account's current roles; else the privacy portal's
    e-mail-verified session (compliance.gdpr.portal.sessions, role data_subject); None."""
    with unit_of_work() as db:  # a live session's last-seen time moves on
        login = current_login(db, request)
        if login is None:
            # The privacy portal's e-mail-verified session (data_subject only; its own names).
            return portal_principal(db, request)
        return Principal(
            subject=str(login.user_id),
            kind="user",
            roles=tuple(login.roles),
            amr=tuple(login.amr),
            acr=login.acr,
            auth_time=login.auth_time,
        )


def authenticate_from_cache(request: Request) -> Principal | None:
    """The caller of a token :func:`authenticate` verified lately, while it is known not to be
    revoked; None sends the request to :func:`authenticate`. No database, no signature check."""
    token = bearer_token(request)
    if token is None:
        return None
    principal = verified_tokens.recall(token)
    if principal is None or principal.token_id is None:
        return None
    if not guard_revocations.known_not_revoked(principal.token_id):
        return None
    if guard_revocations.due_for_refresh(principal.token_id):
        _refresh_ahead(principal.token_id)
    return principal


# jtis whose revocation state is being read again in the background (one read at a time each),
# and the tasks doing it (kept referenced until done).
_refreshing: set[str] = set()
_refresh_tasks: set[asyncio.Task[None]] = set()


def _refresh_ahead(jti: str) -> None:
    """Read ``jti``'s revocation state again on the threadpool while its answer is still fresh;
    the request goes on meanwhile. Only on an event loop (core.authz.grant_access)."""
    if jti in _refreshing:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    _refreshing.add(jti)
    task = loop.create_task(run_in_threadpool(_refresh_revocation, jti))
    _refresh_tasks.add(task)

    def done(finished: asyncio.Task[None]) -> None:
        _refresh_tasks.discard(finished)
        _refreshing.discard(jti)

    task.add_done_callback(done)


def _refresh_revocation(jti: str) -> None:
    ref = guard_revocations.ref_of(jti)
    if ref is None:  # its answer was dropped meanwhile: the next request takes the full check
        return
    try:
        with unit_of_work(read_only=True) as db:
            guard_revocations.refresh(jti, lambda: is_token_revoked(db, ref))
    except Exception as exc:  # the answer then expires and requests take the full check
        log.warning("revocation refresh failed", error=type(exc).__name__)


def _user_roles(db: Any, subject: str) -> tuple[str, ...] | None:
    try:
        user_id = UUID(subject)
    except ValueError:
        return None
    user = get_user(db, user_id)
    if user is None or user.status != "active":
        return None
    return tuple(user.roles)


# Decisions remembered per process; past this many distinct inputs the memo starts over.
DECISION_MEMO_SIZE = 4096
_decisions: dict[tuple[Any, ...], Decision] = {}


def decide(access: AccessRequest) -> Decision:
    """The policy's decision on ``access``. A caller without an authentication time (a service:
    client credentials) is decided once per policy generation, caller, request and UTC minute,
    then answered from memory: nothing else such a decision reads can change meanwhile (zones
    belong to the policy; ``hours=`` and ``days=`` read the minute). A person's decision is made
    afresh every time, since ``auth_age`` moves by the second."""
    principal = access.principal
    generation = runtime.generation
    if principal.auth_time is not None or generation is None:
        return _decide(access)
    key = (
        generation,
        principal.tenant,
        principal.name,
        principal.roles,
        principal.client_id,
        principal.amr,
        access.obj,
        access.act,
        access.origin,
        int(access.at.timestamp()) // 60,
    )
    decision = _decisions.get(key)
    if decision is None:
        decision = _decide(access)
        if runtime.generation == generation:  # not one that a policy change overtook
            if len(_decisions) >= DECISION_MEMO_SIZE:
                _decisions.clear()
            _decisions[key] = decision
    return decision


def forget_decisions() -> None:
    _decisions.clear()


def _decide(access: AccessRequest) -> Decision:
    principal = access.principal
    ip = str(access.origin) if access.origin is not None else None
    with runtime.view() as view:
        ctx = principal_context(view, principal, now=access.at, ip=ip)
        decision = view.decide(
            principal_subjects(principal), principal.tenant, access.obj, access.act, ctx
        )
    return Decision(
        allowed=decision.allowed,
        policy_version=decision.policy_version,
        rule=decision.rule_line,
        reason=None
        if decision.allowed
        else "no matching allow rule"
        if decision.rule is None
        else "denied by rule",
    )


def is_sensitive(obj: str, act: str) -> bool:
    if act in SENSITIVE_ACTIONS:
        return True
    return obj.startswith(SENSITIVE_OBJECT_PREFIXES) and act not in SENSITIVE_OBJECT_READS


def decision_event(access: AccessRequest, decision: Decision) -> EventFields | None:
    """The audit entry of a decision: every deny, and allows on sensitive objects."""
    if decision.allowed and not is_sensitive(access.obj, access.act):
        return None
    principal = access.principal
    return EventFields(
        event_type="authz.allowed" if decision.allowed else "authz.denied",
        outcome="success" if decision.allowed else "denied",
        actor=subject_name(principal),
        origin=str(access.origin) if access.origin is not None else None,
        resource=access.obj,
        details={
            "action": access.act,
            "policy_version": decision.policy_version,
            "rule": decision.rule,
            "client_id": principal.client_id,
            "roles": list(principal.roles),
        },
    )


def record(access: AccessRequest, decision: Decision) -> None:
    event = decision_event(access, decision)
    if event is None:
        return
    with unit_of_work() as db:
        record_event(db, **event)


class _Installed:
    syncer: PolicySyncer | None = None


def start(settings: Settings) -> None:
    """Plug the real guard in and start following the policy store (unless a test configured
    its own guard first). The policy loads in the background; until it does, guarded routes
    answer 503 (fail closed)."""
    if authz.is_configured():
        return
    authz.configure(
        authenticate,
        decide,
        record,
        cached_authenticator=authenticate_from_cache,
        decision_event=decision_event,
        session_authenticator=authenticate_session,
    )
    syncer = PolicySyncer(DatabasePolicyStore(), redis_url=settings.redis_url)
    try:
        syncer.catch_up()  # ready to decide from the first request when the store is reachable
    except Exception as exc:
        log.warning("policy not loaded at start; retrying", error=type(exc).__name__)
    syncer.start()
    _Installed.syncer = syncer


def stop(_settings: Settings) -> None:
    syncer, _Installed.syncer = _Installed.syncer, None
    if syncer is None:
        return
    syncer.stop()
    authz.reset()
    runtime.forget()
    verified_tokens.forget()
