"""The reference access-token verifier resource servers (services, the SDK) use: RFC 9068 checks
on a JWT signed by this provider — alg allow-list, ``typ: at+jwt``, known ``kid`` whose own alg
must match, signature, ``iss``, ``aud``, ``exp``/``nbf`` with a small leeway.

It decides from the token and the JWKS alone; revocation before expiry is what introspection
adds (:func:`iam.oauth2.introspection.introspect_access_token`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from iam.keys import jws

DEFAULT_ALGS = ("ES256", "EdDSA", "RS256")
DEFAULT_LEEWAY_SECONDS = 30
ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")

KeyLookup = Callable[[str], "tuple[str, jws.PublicKey] | None"]
"""kid -> (alg, public key) of a published key, or None when unknown."""


class TokenRejected(Exception):
    """The token must not be accepted; ``reason`` is short and safe to log (no token content)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    header: dict[str, Any]
    claims: dict[str, Any]

    @property
    def subject(self) -> str:
        return str(self.claims["sub"])

    @property
    def client_id(self) -> str:
        return str(self.claims.get("client_id") or self.claims.get("azp") or "")

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(str(self.claims.get("scope", "")).split())

    @property
    def jti(self) -> str:
        return str(self.claims.get("jti", ""))


def keys_from_jwks(jwks: dict[str, Any]) -> KeyLookup:
    """A key lookup over a JWKS document (keys it cannot use are left out)."""
    table: dict[str, tuple[str, jws.PublicKey]] = {}
    for jwk in jwks.get("keys", []):
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
            continue
        try:
            table[jwk["kid"]] = jws.public_key_from_jwk(jwk)
        except jws.JwsError:
            continue
    return table.get


def verify_signed_jwt(
    token: str,
    *,
    keys: KeyLookup,
    allowed_algs: Collection[str] = DEFAULT_ALGS,
) -> VerifiedToken:
    """Signature only: allow-listed alg, known kid, alg equal to the key's; no claim checks."""
    if not isinstance(token, str) or len(token) > 16384:
        raise TokenRejected("malformed")
    try:
        parsed = jws.parse_compact(token)
    except jws.JwsError as exc:
        raise TokenRejected("malformed") from exc
    header = parsed.header
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in allowed_algs or alg not in DEFAULT_ALGS:
        raise TokenRejected("algorithm not allowed")
    if "crit" in header:
        raise TokenRejected("unsupported critical header")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise TokenRejected("missing kid")
    found = keys(kid)
    if found is None:
        raise TokenRejected("unknown kid")
    key_alg, public_key = found
    if key_alg != alg:
        raise TokenRejected("algorithm does not match the key")
    try:
        jws.verify_signature(parsed, alg, public_key)
    except jws.JwsError as exc:
        raise TokenRejected("bad signature") from exc
    return VerifiedToken(header=header, claims=parsed.claims)


def check_time_claims(claims: dict[str, Any], *, leeway: int, now: float | None = None) -> None:
    now = time.time() if now is None else now
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise TokenRejected("missing exp")
    if exp + leeway <= now:
        raise TokenRejected("expired")
    nbf = claims.get("nbf")
    if nbf is not None and (not isinstance(nbf, int | float) or nbf - leeway > now):
        raise TokenRejected("not yet valid")
    iat = claims.get("iat")
    if iat is not None and (not isinstance(iat, int | float) or iat - leeway > now):
        raise TokenRejected("issued in the future")


def audience_matches(claims: dict[str, Any], audience: str) -> bool:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return aud == audience
    return isinstance(aud, list) and audience in aud


def verify_access_token(
    token: str,
    *,
    keys: KeyLookup,
    issuer: str,
    audience: str,
    allowed_algs: Collection[str] = DEFAULT_ALGS,
    leeway: int = DEFAULT_LEEWAY_SECONDS,
    now: float | None = None,
) -> VerifiedToken:
    """Everything RFC 9068 §4 asks of a resource server; raises TokenRejected."""
    verified = verify_access_token_any_audience(
        token, keys=keys, issuer=issuer, allowed_algs=allowed_algs, leeway=leeway, now=now
    )
    if not audience_matches(verified.claims, audience):
        raise TokenRejected("wrong audience")
    return verified


def verify_access_token_any_audience(
    token: str,
    *,
    keys: KeyLookup,
    issuer: str,
    allowed_algs: Collection[str] = DEFAULT_ALGS,
    leeway: int = DEFAULT_LEEWAY_SECONDS,
    now: float | None = None,
) -> VerifiedToken:
    """All checks but the audience: for the issuer itself (introspection, revocation), which
    answers for tokens addressed to any resource. Resource servers use verify_access_token."""
    verified = verify_signed_jwt(token, keys=keys, allowed_algs=allowed_algs)
    typ = verified.header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
        raise TokenRejected("not an access token")
    claims = verified.claims
    if claims.get("iss") != issuer:
        raise TokenRejected("wrong issuer")
    check_time_claims(claims, leeway=leeway, now=now)
    for name in ("sub", "client_id", "jti"):
        if not isinstance(claims.get(name), str) or not claims[name]:
            raise TokenRejected(f"missing {name}")
    if not isinstance(claims.get("exp"), int):
        raise TokenRejected("missing exp")
    return verified
