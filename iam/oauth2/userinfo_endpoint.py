"""The userinfo endpoint (OIDC Core §5.3): a bearer access token of ours, with ``openid`` scope,
not revoked; errors per RFC 6750 in ``WWW-Authenticate``. A first-party client (`rampart whoami`)
with ``profile`` also gets the person's ``roles``; third-party relying parties never do."""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, Response

from core.settings import get_settings
from iam.keys.service import verification_key
from iam.oauth2 import token_store
from iam.oauth2.userinfo import user_claims
from iam.oauth2.verification import TokenRejected, verify_access_token

_MAX_HEADER = 16384


def _bearer_error(error: str, description: str, status: int) -> Response:
    challenge = f'Bearer error="{error}", error_description="{description}"'
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"WWW-Authenticate": challenge, "Cache-Control": "no-store"},
    )


def _first_party(db: Session, client_id: object) -> bool:
    from iam.oauth2.service import get_client

    client = get_client(db, client_id) if isinstance(client_id, str) else None
    return client is not None and client.first_party


def userinfo(db: Session, authorization: str | None) -> Response:
    if not authorization:
        return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or len(authorization) > _MAX_HEADER:
        return _bearer_error("invalid_request", "Use a Bearer access token.", 400)
    issuer = get_settings().issuer
    try:
        verified = verify_access_token(
            token.strip(),
            keys=lambda kid: verification_key(db, kid),
            issuer=issuer,
            audience=issuer,
            leeway=0,
        )
    except TokenRejected:
        return _bearer_error("invalid_token", "The access token is not valid.", 401)
    if token_store.is_token_revoked(db, token_store.AccessTokenRef.from_claims(verified.claims)):
        return _bearer_error("invalid_token", "The access token is not valid.", 401)
    if "openid" not in verified.scopes:
        return _bearer_error("insufficient_scope", "The openid scope is required.", 403)
    try:
        from uuid import UUID

        user_id = UUID(verified.subject)
    except ValueError:
        return _bearer_error("invalid_token", "The access token has no user.", 401)
    claims = user_claims(db, user_id, str(verified.claims.get("scope", "")))
    if claims is None:
        return _bearer_error("invalid_token", "The user is no longer active.", 401)
    if "profile" in verified.scopes and _first_party(db, verified.claims.get("client_id")):
        from iam.accounts.service import get_user

        user = get_user(db, user_id)
        claims["roles"] = user.roles if user is not None else []
    return JSONResponse(claims, headers={"Cache-Control": "no-store"})
