"""The one client authentication of every OAuth endpoint (RFC 6749 §2.3, §3.2.1; RFC 7523 §2.2;
OIDC Core §9): client_secret_basic, client_secret_post, private_key_jwt and, where an endpoint
allows public clients, none. Rampart's own handlers call it on the event loop; authlib's grants
and endpoints reach it through ``AuthorizationServer.authenticate_client`` in the threadpool.

Every failure is one answer (``ClientAuthenticationFailed``) for the same work: an unknown
client id costs the secret check a known one costs, and both are judged from the client cache
(iam.oauth2.client_cache), which remembers unknown ids as well as known clients.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote

import orjson
from authlib.oauth2.rfc6749 import InvalidClientError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from core.database import unit_of_work
from core.settings import get_settings
from iam.oauth2 import client_cache, token_store
from iam.oauth2.client_cache import CachedClient
from iam.oauth2.client_secrets import spend_dummy_secret_check

CONFIDENTIAL_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a path, not a secret
# Assertions are short-lived by design; a long one would keep its jti row around for nothing.
MAX_ASSERTION_LIFETIME_SECONDS = 600
ASSERTION_LEEWAY_SECONDS = 30
ASSERTION_ALGS = ["ES256", "ES384", "RS256", "PS256", "EdDSA"]


class ClientAuthenticationFailed(InvalidClientError):  # type: ignore[misc]
    """The one answer to every failed client authentication — unknown client, wrong secret,
    wrong method, bad assertion — so it tells neither which client ids exist nor how they
    authenticate (RFC 6749 §5.2: 401 with a ``WWW-Authenticate`` challenge)."""

    status_code = 401
    description = "Client authentication failed."

    def __init__(self) -> None:
        super().__init__(description=self.description, status_code=401)


@dataclass(frozen=True, slots=True)
class PresentedClient:
    """How the request says who the client is; ``proof`` is the secret or the assertion."""

    client_id: str
    method: str
    proof: str = field(default="", repr=False)


def presented_client(headers: Mapping[str, str], form: Mapping[str, str]) -> PresentedClient:
    """Exactly one method per request (RFC 6749 §2.3); anything else fails authentication."""
    basic = _basic(headers.get("authorization"))
    client_id = form.get("client_id")
    secret = form.get("client_secret")
    assertion = form.get("client_assertion")
    if basic is not None:
        if secret is not None or assertion is not None or client_id not in (None, basic[0]):
            raise ClientAuthenticationFailed()
        return PresentedClient(basic[0], "client_secret_basic", basic[1])
    if assertion is not None:
        subject = _unverified_subject(assertion)
        if (
            form.get("client_assertion_type") != ASSERTION_TYPE
            or secret is not None
            or subject is None
            or client_id not in (None, subject)
        ):
            raise ClientAuthenticationFailed()
        return PresentedClient(subject, "private_key_jwt", assertion)
    if not client_id:
        raise ClientAuthenticationFailed()
    if secret is None:
        return PresentedClient(client_id, "none")
    return PresentedClient(client_id, "client_secret_post", secret)


def _basic(authorization: str | None) -> tuple[str, str] | None:
    # Parsed as authlib's extract_basic_authorization parses it; another scheme is no Basic.
    if not authorization or " " not in authorization:
        return None
    scheme, credentials = authorization.split(None, 1)
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials).decode("utf-8")
    except (binascii.Error, ValueError):
        raise ClientAuthenticationFailed() from None
    client_id, colon, secret = decoded.partition(":")
    client_id, secret = unquote(client_id), unquote(secret)
    if not colon or not client_id or not secret:
        raise ClientAuthenticationFailed()
    return client_id, secret


def _unverified_subject(assertion: str) -> str | None:
    """The ``sub`` the assertion claims, only to find the keys that must have signed it."""
    parts = assertion.split(".")
    if len(parts) != 3 or len(assertion) > 8192:
        return None
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    subject = claims.get("sub") if isinstance(claims, dict) else None
    return subject if isinstance(subject, str) and subject else None


def assertion_valid(db: Session, client: CachedClient, assertion: str) -> bool:
    """RFC 7523 §3: signed by a registered key, iss = sub = client, aud = this server, short
    lifetime, and a ``jti`` never seen before (recorded in ``db``)."""
    if not client.jwks:
        return False
    issuer = get_settings().issuer
    try:
        keys = KeySet.import_key_set(client.jwks)  # type: ignore[arg-type]
        token = jwt.decode(assertion, keys, algorithms=ASSERTION_ALGS)
        jwt.JWTClaimsRegistry(
            leeway=ASSERTION_LEEWAY_SECONDS,
            iss={"essential": True, "value": client.client_id},
            sub={"essential": True, "value": client.client_id},
            aud={"essential": True, "values": [issuer, issuer + TOKEN_PATH]},
            exp={"essential": True},
            jti={"essential": True},
        ).validate(token.claims)
    except (JoseError, ValueError, TypeError, KeyError):
        return False
    exp, jti = token.claims["exp"], token.claims["jti"]
    if not isinstance(exp, int) or not isinstance(jti, str) or len(jti) > 200:
        return False
    if exp - int(datetime.now(UTC).timestamp()) > MAX_ASSERTION_LIFETIME_SECONDS:
        return False
    expires_at = datetime.fromtimestamp(exp + ASSERTION_LEEWAY_SECONDS, UTC)
    return token_store.record_assertion_jti(db, client.client_id, jti, expires_at)


def _judge(
    client: CachedClient | None,
    presented: PresentedClient,
    methods: Collection[str],
    assertion_check: Callable[[CachedClient, str], bool],
) -> CachedClient:
    if presented.method in SECRET_METHODS:
        # The HMAC is spent whether or not the client exists and uses this method.
        if client is None:
            spend_dummy_secret_check(presented.proof)
            matches = False
        else:
            matches = client.secret_matches(presented.proof)
    elif presented.method == "private_key_jwt":
        matches = client is not None and client.auth_method == presented.method
        matches = matches and assertion_check(client, presented.proof)  # type: ignore[arg-type]
    else:
        matches = True  # "none": the client id alone, for a client registered as public
    if (
        client is None
        or not matches
        or presented.method not in methods
        or client.auth_method != presented.method
    ):
        raise ClientAuthenticationFailed()
    return client


def authenticate_client_in(
    db: Session, presented: PresentedClient, methods: Collection[str]
) -> CachedClient:
    """For authlib's grants and endpoints: judged in the caller's transaction."""
    client = client_cache.cached_client(presented.client_id)
    if client is None and not client_cache.known_absent(presented.client_id):
        client = client_cache.load_client(db, presented.client_id)
    return _judge(
        client, presented, methods, lambda found, proof: assertion_valid(db, found, proof)
    )


def _load_client(client_id: str) -> CachedClient | None:
    with unit_of_work(read_only=True) as db:
        return client_cache.load_client(db, client_id)


def _judge_assertion(
    client: CachedClient | None, presented: PresentedClient, methods: Collection[str]
) -> CachedClient:
    with unit_of_work() as db:  # the assertion's jti is spent even if the request fails later
        return _judge(client, presented, methods, lambda found, p: assertion_valid(db, found, p))


async def authenticate_client(presented: PresentedClient, methods: Collection[str]) -> CachedClient:
    """For Rampart's handlers on the event loop: a cache hit costs no database work; a miss
    warms the cache in the threadpool; an assertion's jti is recorded there too."""
    client = client_cache.cached_client(presented.client_id)
    if client is None and not client_cache.known_absent(presented.client_id):
        client = await run_in_threadpool(_load_client, presented.client_id)
    if presented.method == "private_key_jwt":
        return await run_in_threadpool(_judge_assertion, client, presented, methods)
    return _judge(client, presented, methods, lambda _client, _proof: False)
