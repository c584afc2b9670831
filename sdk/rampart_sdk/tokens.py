"""Local verification of Rampart's RFC 9068 access tokens with python-jose: ``typ: at+jwt``, an
allow-listed ``alg`` equal to its key's, a published ``kid``, signature, ``iss``, ``aud``,
``exp``/``nbf`` with clock skew. Verified tokens are cached (bounded) until they expire."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from jose.exceptions import JOSEError
from jose.utils import base64url_decode

from rampart_sdk.errors import TokenInvalid
from rampart_sdk.jwks import SUPPORTED_ALGS, JwksCache

ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")
MAX_TOKEN_LENGTH = 16384


@dataclass(frozen=True, slots=True)
class AccessToken:
    """The verified claims of an access token."""

    claims: dict[str, Any]

    @property
    def subject(self) -> str:
        return str(self.claims["sub"])

    @property
    def client_id(self) -> str:
        return str(self.claims.get("client_id") or "")

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(str(self.claims.get("scope", "")).split())

    @property
    def roles(self) -> tuple[str, ...]:
        roles = self.claims.get("roles")
        return tuple(str(r) for r in roles) if isinstance(roles, list) else ()

    @property
    def amr(self) -> tuple[str, ...]:
        amr = self.claims.get("amr")
        return tuple(str(m) for m in amr) if isinstance(amr, list) else ()

    @property
    def is_service(self) -> bool:
        """A client acting for itself (client credentials) rather than for a person."""
        return self.subject == self.client_id and "auth_time" not in self.claims

    @property
    def casbin_subject(self) -> str:
        """How Rampart's policies name this caller: ``client:<id>`` or ``user:<sub>``."""
        return f"client:{self.client_id}" if self.is_service else f"user:{self.subject}"

    @property
    def expires_at(self) -> float:
        return float(self.claims["exp"])


class TokenVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks: JwksCache,
        clock_skew_seconds: int = 30,
        allowed_algs: tuple[str, ...] = SUPPORTED_ALGS,
        cache_size: int = 10_000,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks = jwks
        self.skew = clock_skew_seconds
        self.allowed_algs = tuple(a for a in allowed_algs if a in SUPPORTED_ALGS)
        self._cache: dict[str, AccessToken] = {}
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def verify(self, token: str) -> AccessToken:
        """The verified token, or TokenInvalid (its reason names no token content)."""
        cached = self._cache.get(token)
        if cached is not None:
            if cached.expires_at + self.skew > time.time():
                return cached
            with self._lock:
                self._cache.pop(token, None)
        verified = self.verify_uncached(token)
        if self._cache_size > 0:
            with self._lock:
                if len(self._cache) >= self._cache_size:
                    # Oldest first (dict order); an expired or evicted token is verified anew.
                    self._cache.pop(next(iter(self._cache)))
                self._cache[token] = verified
        return verified

    def verify_uncached(self, token: str) -> AccessToken:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
            raise TokenInvalid("malformed")
        header, claims, signing_input, signature = _parse(token)
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
            raise TokenInvalid("not an access token")
        alg = header.get("alg")
        if alg not in self.allowed_algs:
            raise TokenInvalid("algorithm not allowed")
        if "crit" in header:
            raise TokenInvalid("unsupported critical header")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise TokenInvalid("missing kid")
        found = self.jwks.key(kid)
        if found is None:
            raise TokenInvalid("unknown kid")
        key_alg, key = found
        if key_alg != alg:
            raise TokenInvalid("algorithm does not match the key")
        # python-jose's key does the signature (raw ECDSA r||s, RSA PKCS#1 v1.5); the token is
        # parsed once here instead of twice by jwt.decode.
        try:
            valid = key.verify(signing_input, signature)
        except JOSEError:
            valid = False
        if not valid:
            raise TokenInvalid("bad signature")
        self._check_claims(claims)
        return AccessToken(claims)

    def _check_claims(self, claims: dict[str, Any]) -> None:
        now = time.time()
        exp = claims.get("exp")
        if not isinstance(exp, int) or isinstance(exp, bool):
            raise TokenInvalid("missing exp")
        if exp + self.skew <= now:
            raise TokenInvalid("expired")
        nbf = claims.get("nbf")
        if nbf is not None and (not isinstance(nbf, int | float) or nbf - self.skew > now):
            raise TokenInvalid("not yet valid")
        if claims.get("iss") != self.issuer:
            raise TokenInvalid("wrong issuer", expected=self.issuer, actual=claims.get("iss"))
        aud = claims.get("aud")
        if not (aud == self.audience or (isinstance(aud, list) and self.audience in aud)):
            raise TokenInvalid("wrong audience", expected=self.audience, actual=aud)
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise TokenInvalid("missing sub")


def _parse(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenInvalid("malformed")
    try:
        header = json.loads(base64url_decode(parts[0].encode()))
        claims = json.loads(base64url_decode(parts[1].encode()))
        signature = base64url_decode(parts[2].encode())
    except (ValueError, TypeError) as exc:
        raise TokenInvalid("malformed") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenInvalid("malformed")
    return header, claims, f"{parts[0]}.{parts[1]}".encode(), signature
