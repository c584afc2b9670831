"""Token introspection (RFC 7662) for every token this provider issues: a JWT access token is
verified by its signature (cached keys; an unknown kid re-reads them) and checked against the
revocations (from memory while the Redis revocation feed is live, else read exactly); a
refresh token is looked up by its hash; anything else is inactive. Any
authenticated confidential client (resource servers are clients) may introspect access tokens;
refresh tokens only the client they were issued to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError, UnsupportedTokenTypeError
from starlette.concurrency import run_in_threadpool

from core.database import unit_of_work
from core.settings import get_settings
from iam.keys.service import cached_verification_key, verification_key
from iam.oauth2 import revocation_feed, token_store
from iam.oauth2.client_auth import CONFIDENTIAL_METHODS, authenticate_client, presented_client
from iam.oauth2.verification import (
    KeyLookup,
    TokenRejected,
    VerifiedToken,
    verify_access_token_any_audience,
)

SUPPORTED_TOKEN_TYPES = ("access_token", "refresh_token")
MAX_TOKEN_CHARS = 16384
_INTROSPECTED_CLAIMS = ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "nbf", "jti")
_USER_CLAIMS = ("auth_time", "acr", "amr", "sid")
INACTIVE: dict[str, Any] = {"active": False}


def access_token_body(claims: dict[str, Any]) -> dict[str, Any]:
    """RFC 7662 §2.2 answer for an active JWT access token."""
    body: dict[str, Any] = {"active": True, "token_type": "Bearer"}
    for name in (*_INTROSPECTED_CLAIMS, *_USER_CLAIMS):
        if name in claims:
            body[name] = claims[name]
    return body


def _verified(token: str, keys: KeyLookup) -> VerifiedToken | None:
    try:
        return verify_access_token_any_audience(
            token, keys=keys, issuer=get_settings().issuer, leeway=0
        )
    except TokenRejected:
        return None


def _verified_with_fresh_keys(token: str) -> VerifiedToken | None:
    with unit_of_work(read_only=True) as db:
        return _verified(token, lambda kid: verification_key(db, kid))


def _read_revocation(ref: token_store.AccessTokenRef, remember: bool) -> bool:
    with unit_of_work(read_only=True) as db:
        if remember:
            return token_store.is_token_revoked_for_guard(db, ref)
        return token_store.is_token_revoked(db, ref)


async def _access_token_revoked(claims: dict[str, Any]) -> bool:
    """With the revocation feed live (Redis), from this process's memory: every revocation
    reaches it when committed, so a remembered "not revoked" is trusted. Without it, exact: one
    read of the tables, so a revocation by any process counts at once."""
    ref = token_store.AccessTokenRef.from_claims(claims)
    revocation_feed.ensure_subscribed()
    live = revocation_feed.live()
    if live and token_store.guard_revocations.known_not_revoked(ref.jti):
        return False
    return await run_in_threadpool(_read_revocation, ref, live)


async def _access_token_state(token: str) -> dict[str, Any]:
    unknown_kid = False

    def cached_keys(kid: str) -> Any:
        nonlocal unknown_kid
        found = cached_verification_key(kid)
        unknown_kid = unknown_kid or found is None
        return found

    verified = _verified(token, cached_keys)
    if verified is None and unknown_kid:  # a cold or stale key cache, or a new key
        verified = await run_in_threadpool(_verified_with_fresh_keys, token)
    if verified is None or await _access_token_revoked(verified.claims):
        return INACTIVE
    return access_token_body(verified.claims)


def _refresh_token_state(token: str, client_id: str) -> dict[str, Any]:
    with unit_of_work(read_only=True) as db:
        lookup = token_store.find_refresh_token(db, token)
        if lookup is None or lookup.family.client_id != client_id or not lookup.usable:
            return INACTIVE
        family = lookup.family
        return {
            "active": True,
            "token_type": "refresh_token",
            "client_id": family.client_id,
            "sub": str(family.user_id),
            "scope": family.scope,
            "iss": get_settings().issuer,
            "iat": int(lookup.token.created_at.timestamp()),
            "exp": int(family.expires_at.timestamp()),
        }


async def introspect(headers: Mapping[str, str], form: Mapping[str, str]) -> dict[str, Any]:
    """The RFC 7662 §2.2 answer; raises authlib's OAuth2Error subclasses for §2.3 errors.
    The hint is only a hint: the token's own shape says what it is."""
    client = await authenticate_client(presented_client(headers, form), CONFIDENTIAL_METHODS)
    token = form.get("token")
    if token is None:
        raise InvalidRequestError()
    hint = form.get("token_type_hint")
    if hint and hint not in SUPPORTED_TOKEN_TYPES:
        raise UnsupportedTokenTypeError()
    if not token or len(token) > MAX_TOKEN_CHARS:
        return INACTIVE
    if token.startswith(token_store.REFRESH_TOKEN_PREFIX):
        return await run_in_threadpool(_refresh_token_state, token, client.client_id)
    if token.count(".") != 2:
        return INACTIVE
    return await _access_token_state(token)
