"""Lean paths for the two hot OAuth requests: the client_credentials grant (RFC 6749 §4.4) and
introspection of a JWT access token (RFC 7662). They serve only a plainly well-formed request
from a client authenticated against the cache, and answer exactly what authlib's path answers
for it; for anything else they return None and the endpoint runs the full authlib path, which
owns every error code. So behaviour is unchanged, only the common case skips authlib's
machinery, the per-request transaction and the threadpool.

The token path runs on the event loop: it does no database work (cache hits only; a miss warms
the cache in the threadpool) and its CPU work (HMAC, one ES256 signature) is tens of
microseconds. The response waits until the audit entry is committed by the group-commit writer.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from core.audit.writer import record_event_committed
from core.database import unit_of_work
from core.errors import RampartError
from core.settings import get_settings
from iam.keys.service import (
    LoadedSigningKey,
    active_signing_key,
    cached_active_signing_key,
    cached_verification_key,
)
from iam.oauth2 import client_cache, token_store
from iam.oauth2.client_cache import CachedClient
from iam.oauth2.fast_client_auth import (
    PresentedClient,
    authenticates,
    presented_client,
    single_valued_form,
)
from iam.oauth2.requests import RequestSnapshot
from iam.oauth2.responses import oauth_error, token_json
from iam.oauth2.token_endpoints import introspection_body
from iam.oauth2.tokens import access_token_audience, sign_access_token
from iam.oauth2.verification import TokenRejected, verify_access_token_any_audience

_CLIENT_FIELDS = frozenset({"client_id", "client_secret"})
_TOKEN_FIELDS = frozenset({"grant_type", "scope", "resource"}) | _CLIENT_FIELDS
_INTROSPECT_FIELDS = frozenset({"token", "token_type_hint"}) | _CLIENT_FIELDS
GRANT_TYPE = "client_credentials"


# ---- client_credentials --------------------------------------------------------------------


def _warm_for_token(client_id: str) -> tuple[CachedClient | None, LoadedSigningKey]:
    with unit_of_work() as db:
        return client_cache.load_client(db, client_id), active_signing_key(db)


async def client_credentials_token(snapshot: RequestSnapshot) -> Response | None:
    """The token response, or None when this request is not for the lean path."""
    form = single_valued_form(snapshot, _TOKEN_FIELDS)
    if form is None or form.get("grant_type") != GRANT_TYPE:
        return None
    presented = presented_client(snapshot, form)
    if presented is None:
        return None
    client = client_cache.cached_client(presented.client_id)
    if client is None and client_cache.known_absent(presented.client_id):
        return None  # refused by the full path, at the cost of a known client's refusal
    cached_key = cached_active_signing_key()
    if client is None or cached_key is None:
        client, key = await run_in_threadpool(_warm_for_token, presented.client_id)
    else:
        key = cached_key
    if client is None:
        return None
    if not authenticates(client, presented) or GRANT_TYPE not in client.grant_types:
        return None
    scope = client.allowed_scope(form.get("scope"))
    resource = form.get("resource")
    if scope is None or (resource is not None and resource not in client.audiences):
        return None
    audience = access_token_audience(list(client.audiences), scope, resource)
    access_token, issued, ttl = sign_access_token(
        key, client_id=client.client_id, subject=None, scope=scope, audience=audience
    )
    try:
        await record_event_committed(
            event_type="oauth2.token.issued",
            actor=f"client:{client.client_id}",
            resource=f"oauth2_client:{client.client_id}",
            details={
                "client_id": client.client_id,
                "grant_type": GRANT_TYPE,
                "jti": issued.jti,
                "scope": scope,
            },
        )
    except RampartError as exc:  # not audited: the token is never handed out
        return oauth_error("temporarily_unavailable", exc.detail, 503)
    return token_json(
        {"access_token": access_token, "token_type": "Bearer", "expires_in": ttl, "scope": scope}
    )


# ---- introspection -------------------------------------------------------------------------


def _warm_client(client_id: str) -> CachedClient | None:
    with unit_of_work(read_only=True) as db:
        return client_cache.load_client(db, client_id)


def _is_revoked(claims: dict[str, Any]) -> bool:
    # Exact: every answer reads the tables, so a revocation by any process counts at once.
    with unit_of_work(read_only=True) as db:
        return token_store.is_token_revoked(db, token_store.AccessTokenRef.from_claims(claims))


async def _authenticated(presented: PresentedClient) -> CachedClient | None:
    client = client_cache.cached_client(presented.client_id)
    if client is None and client_cache.known_absent(presented.client_id):
        return None
    if client is None:
        client = await run_in_threadpool(_warm_client, presented.client_id)
    if client is None or not authenticates(client, presented):
        return None
    return client


async def introspect_access_token(snapshot: RequestSnapshot) -> Response | None:
    """The introspection answer for a valid JWT access token, or None for the full path."""
    form = single_valued_form(snapshot, _INTROSPECT_FIELDS)
    if form is None:
        return None
    presented = presented_client(snapshot, form)
    token = form.get("token")
    hint = form.get("token_type_hint")
    if presented is None or not token or hint not in (None, "access_token"):
        return None
    if token.startswith(token_store.REFRESH_TOKEN_PREFIX) or token.count(".") != 2:
        return None
    if await _authenticated(presented) is None:
        return None
    try:
        # A stale or cold key cache says "unknown kid": the full path re-reads the keys.
        verified = verify_access_token_any_audience(
            token, keys=cached_verification_key, issuer=get_settings().issuer, leeway=0
        )
    except TokenRejected:
        return None  # the full path answers it (active: false, or after a key refresh)
    body: dict[str, Any]
    if await run_in_threadpool(_is_revoked, verified.claims):
        body = {"active": False}
    else:
        body = introspection_body(verified.claims)
    return token_json(body)
