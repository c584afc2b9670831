"""private_key_jwt client authentication (RFC 7523 §2.2, OIDC Core §9): the client signs an
assertion with a key from its registered JWKS; each assertion ``jti`` is accepted once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy.orm import Session

from core.settings import get_settings
from iam.oauth2 import token_store

TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a path, not a secret
# Assertions are short-lived by design; a long one would keep its jti row around for nothing.
MAX_ASSERTION_LIFETIME_SECONDS = 600


class PrivateKeyJwtAuthentication(JWTBearerClientAssertion):  # type: ignore[misc]
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, db: Session) -> None:
        super().__init__(validate_jti=True, leeway=30)
        self.db = db

    def get_audiences(self) -> list[str]:
        issuer = get_settings().issuer
        return [issuer, issuer + TOKEN_PATH]

    def resolve_client_public_key(self, client: Any) -> KeySet:
        jwks = client.jwks
        if not jwks:
            raise InvalidClientError(description="The client has no registered keys.")
        try:
            return KeySet.import_key_set(jwks)
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidClientError(description="The client's keys are unusable.") from exc

    def validate_jti(self, claims: Any, jti: str) -> bool:
        exp = claims.get("exp")
        if not isinstance(exp, int) or not isinstance(jti, str) or len(jti) > 200:
            return False
        now = int(datetime.now(UTC).timestamp())
        if exp - now > MAX_ASSERTION_LIFETIME_SECONDS:
            return False
        expires_at = datetime.fromtimestamp(exp + self.leeway, UTC)
        return token_store.record_assertion_jti(self.db, str(claims["sub"]), jti, expires_at)
