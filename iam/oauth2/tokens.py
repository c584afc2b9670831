"""Minting the signed tokens: RFC 9068 JWT access tokens (``typ: at+jwt``) and OIDC ID tokens
(``typ: JWT``), both with the active signing key."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from core.settings import get_settings
from iam.keys import jws
from iam.keys.service import LoadedSigningKey, active_signing_key
from iam.oauth2.token_store import IssuedAccess

ACCESS_TOKEN_TYP = "at+jwt"  # noqa: S105 - a media type
ID_TOKEN_TYP = "JWT"  # noqa: S105 - a media type


@dataclass(frozen=True, slots=True)
class Subject:
    """The end-user a grant acts for, with how and when they logged in."""

    user_id: UUID
    auth_time: datetime
    amr: list[str] = field(default_factory=list)
    acr: str | None = None
    sid: str | None = None

    def get_user_id(self) -> str:  # authlib's user contract
        return str(self.user_id)


def token_amr(subject: Subject) -> list[str]:
    """The ``amr`` claim: the methods used, plus RFC 8176's ``mfa`` when two or more distinct
    factors were (the policies' ``mfa`` condition reads that value)."""
    methods = list(subject.amr)
    if len(set(methods)) >= 2 and "mfa" not in methods:
        methods.append("mfa")
    return methods


def access_token_audience(allowed: list[str], scope: str, resource: str | None) -> list[str]:
    """``aud``: the requested resource (RFC 8707) if the client may address it, else the
    client's audiences, else the issuer; the issuer is added for ``openid`` (userinfo)."""
    issuer = get_settings().issuer
    audience = [resource] if resource else list(allowed) or [issuer]
    if "openid" in scope.split() and issuer not in audience:
        audience.append(issuer)
    return audience


def mint_access_token(
    db: Session,
    *,
    client_id: str,
    subject: Subject | None,
    scope: str,
    audience: list[str],
) -> tuple[str, IssuedAccess, int]:
    """The JWT, what to remember about it, and its lifetime in seconds."""
    return sign_access_token(
        active_signing_key(db), client_id=client_id, subject=subject, scope=scope, audience=audience
    )


def sign_access_token(
    key: LoadedSigningKey,
    *,
    client_id: str,
    subject: Subject | None,
    scope: str,
    audience: list[str],
) -> tuple[str, IssuedAccess, int]:
    """:func:`mint_access_token` with the key in hand (no database)."""
    settings = get_settings()
    now = int(time.time())
    ttl = settings.access_token_ttl
    jti = secrets.token_urlsafe(18)
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "sub": str(subject.user_id) if subject else client_id,
        "aud": audience[0] if len(audience) == 1 else audience,
        "exp": now + ttl,
        "iat": now,
        "nbf": now,
        "jti": jti,
        "client_id": client_id,
        "scope": scope,
    }
    if subject is not None:
        claims["auth_time"] = int(subject.auth_time.timestamp())
        if subject.acr:
            claims["acr"] = subject.acr
        if subject.amr:
            claims["amr"] = token_amr(subject)
        if subject.sid:
            claims["sid"] = subject.sid
    header = {"alg": key.alg, "typ": ACCESS_TOKEN_TYP, "kid": key.kid}
    token = jws.sign_compact(header, claims, key.private_key)
    return token, IssuedAccess(jti=jti, expires_at=datetime.fromtimestamp(now + ttl, UTC)), ttl


def mint_id_token(
    db: Session,
    *,
    client_id: str,
    subject: Subject,
    nonce: str | None,
    access_token: str | None,
    user_claims: dict[str, Any],
) -> str:
    settings = get_settings()
    key = active_signing_key(db)
    now = int(time.time())
    claims: dict[str, Any] = {
        **user_claims,
        "iss": settings.issuer,
        "sub": str(subject.user_id),
        "aud": client_id,
        "azp": client_id,
        "exp": now + settings.id_token_ttl,
        "iat": now,
        "auth_time": int(subject.auth_time.timestamp()),
    }
    if nonce:
        claims["nonce"] = nonce
    if subject.acr:
        claims["acr"] = subject.acr
    if subject.amr:
        claims["amr"] = token_amr(subject)
    if subject.sid:
        claims["sid"] = subject.sid
    if access_token:
        claims["at_hash"] = jws.half_hash(access_token, key.alg)
    header = {"alg": key.alg, "typ": ID_TOKEN_TYP, "kid": key.kid}
    return jws.sign_compact(header, claims, key.private_key)
