"""Revocation (RFC 7009) on authlib's endpoint: a JWT access token is recognized by its signature
and tracked by ``jti``; a refresh token by its hash. (Introspection: iam.oauth2.introspection.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint
from sqlalchemy.orm import Session

from core.audit.service import record_event
from core.settings import get_settings
from iam.keys.service import verification_key
from iam.oauth2 import token_store
from iam.oauth2.client_auth import CONFIDENTIAL_METHODS
from iam.oauth2.requests import RampartOAuth2Request
from iam.oauth2.token_store import RefreshLookup
from iam.oauth2.verification import TokenRejected, verify_access_token_any_audience


@dataclass(frozen=True, slots=True)
class AccessTokenRecord:
    claims: dict[str, Any]
    revoked: bool

    kind = "access_token"

    @property
    def client_id(self) -> str:
        return str(self.claims.get("client_id", ""))

    def check_client(self, client: Any) -> bool:
        return bool(self.client_id == client.get_client_id())

    def is_expired(self) -> bool:
        return False  # the verifier refused expired tokens already

    def is_revoked(self) -> bool:
        return self.revoked


@dataclass(frozen=True, slots=True)
class RefreshTokenRecord:
    lookup: RefreshLookup

    kind = "refresh_token"

    @property
    def client_id(self) -> str:
        return self.lookup.family.client_id

    def check_client(self, client: Any) -> bool:
        return bool(self.client_id == client.get_client_id())

    def is_expired(self) -> bool:
        return not self.lookup.usable and self.lookup.family.revoked_at is None

    def is_revoked(self) -> bool:
        return self.lookup.family.revoked_at is not None or not self.lookup.is_current


TokenRecord = AccessTokenRecord | RefreshTokenRecord


def find_token(db: Session, token: str, hint: str | None) -> TokenRecord | None:
    """The token as this provider knows it, whatever the hint says (the hint is only a hint)."""
    if not isinstance(token, str) or not token or len(token) > 16384:
        return None
    if token.startswith(token_store.REFRESH_TOKEN_PREFIX):
        lookup = token_store.find_refresh_token(db, token)
        return RefreshTokenRecord(lookup) if lookup else None
    if token.count(".") != 2:
        return None
    try:
        verified = verify_access_token_any_audience(
            token,
            keys=lambda kid: verification_key(db, kid),
            issuer=get_settings().issuer,
            leeway=0,
        )
    except TokenRejected:
        return None
    ref = token_store.AccessTokenRef.from_claims(verified.claims)
    return AccessTokenRecord(claims=verified.claims, revoked=token_store.is_token_revoked(db, ref))


class RevocationEndpoint(_RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = [*CONFIDENTIAL_METHODS, "none"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRecord | None:
        return find_token(self.server.db, token_string, token_type_hint)

    def authenticate_token(self, request: RampartOAuth2Request, client: Any) -> TokenRecord | None:
        """Another client's token is left alone and answered like an unknown one (RFC 7009
        §2.2: 200), so the answer tells the caller nothing about it; the attempt is audited."""
        self.check_params(request, client)
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        if token is not None and not token.check_client(client):
            record_event(
                self.server.db,
                event_type="oauth2.token.revocation_refused",
                outcome="denied",
                actor=f"client:{client.get_client_id()}",
                resource=f"oauth2_client:{token.client_id}",
                details={"kind": token.kind, "reason": "issued to another client"},
            )
            return None
        return token

    def revoke_token(self, token: TokenRecord, request: RampartOAuth2Request) -> None:
        db = self.server.db
        details: dict[str, Any] = {"client_id": token.client_id, "kind": token.kind}
        if isinstance(token, AccessTokenRecord):
            jti = str(token.claims["jti"])
            expires_at = datetime.fromtimestamp(int(token.claims["exp"]), UTC)
            token_store.revoke_access_jti(db, jti, token.client_id, expires_at, "revoked_by_client")
            details["jti"] = jti
        else:
            family = token.lookup.family
            details["family_id"] = str(family.id)
            details["revoked_jti"] = token_store.revoke_family(db, family, "revoked_by_client")
        record_event(
            db,
            event_type="oauth2.token.revoked",
            resource=f"oauth2_client:{token.client_id}",
            details=details,
        )
