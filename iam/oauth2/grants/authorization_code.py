"""Authorization code grant: codes hashed, single use, 60 s; PKCE S256 required for every client
("plain" refused); a replayed code revokes what it issued; OpenID Connect ID tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core.grants import OpenIDCode
from sqlalchemy import select

from core.audit.service import record_event
from core.clock import utcnow
from core.settings import get_settings
from iam.keys.jws import b64url_encode
from iam.oauth2 import token_store
from iam.oauth2.grants.issuing import IssuesRampartTokens
from iam.oauth2.models import AuthorizationCode
from iam.oauth2.requests import RampartOAuth2Request
from iam.oauth2.tokens import Subject, mint_id_token
from iam.oauth2.userinfo import user_claims

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]


def _s256_matches(verifier: str, challenge: str) -> bool:
    computed = b64url_encode(hashlib.sha256(verifier.encode("ascii")).digest())
    return hmac.compare_digest(computed, challenge)


class S256CodeChallenge(CodeChallenge):  # type: ignore[misc]
    """PKCE for all clients, S256 only: a missing challenge or verifier is invalid_request."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    CODE_CHALLENGE_METHODS = {"S256": _s256_matches}

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: missing 'code_challenge'.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'.")
        super().validate_code_verifier(grant, result)


class RedeemedCode:
    """The code row as authlib's AuthorizationCodeMixin sees it."""

    def __init__(self, row: AuthorizationCode) -> None:
        self.row = row
        self.code_challenge = row.code_challenge
        self.code_challenge_method = row.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope

    def get_nonce(self) -> str | None:
        return self.row.nonce

    def get_auth_time(self) -> int:
        return int(self.row.auth_time.timestamp())

    def get_acr(self) -> str | None:
        return self.row.acr

    def get_amr(self) -> list[str]:
        return list(self.row.amr)


class AuthorizationCodeGrant(IssuesRampartTokens, grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    request: RampartOAuth2Request

    def save_authorization_code(self, code: str, request: RampartOAuth2Request) -> None:
        subject: Subject = request.user
        now = utcnow()
        data = request.payload.data
        self.server.db.add(
            AuthorizationCode(
                code_hash=token_store.opaque_hash(code),
                client_id=request.client.get_client_id(),
                user_id=subject.user_id,
                redirect_uri=request.payload.redirect_uri,
                scope=request.scope or "",
                nonce=data.get("nonce"),
                code_challenge=data["code_challenge"],
                code_challenge_method=data.get("code_challenge_method", "S256"),
                auth_time=subject.auth_time,
                amr=list(subject.amr),
                acr=subject.acr,
                sid=subject.sid,
                created_at=now,
                expires_at=now + timedelta(seconds=get_settings().authorization_code_ttl),
            )
        )
        self.server.db.flush()

    def generate_authorization_code(self) -> str:
        return secrets.token_urlsafe(32)

    def query_authorization_code(self, code: str, client: Any) -> RedeemedCode | None:
        db = self.server.db
        if not isinstance(code, str) or len(code) > 200:
            return None
        row = token_store.find_code(db, code, lock=True)
        if row is None or row.client_id != client.get_client_id():
            return None
        if row.used_at is not None or not token_store.mark_code_used(db, row):
            self._on_replay(row)
            return None
        if row.expires_at <= utcnow():
            return None
        return RedeemedCode(row)

    def _on_replay(self, row: AuthorizationCode) -> None:
        token_store.revoke_code_descendants(self.server.db, row, "code_replayed")
        record_event(
            self.server.db,
            event_type="oauth2.code.replayed",
            outcome="denied",
            resource=f"oauth2_client:{row.client_id}",
            details={
                "client_id": row.client_id,
                "code_id": str(row.id),
                "revoked_jti": row.issued_access_jti,
                "revoked_family_id": str(row.issued_family_id) if row.issued_family_id else None,
            },
        )

    def delete_authorization_code(self, authorization_code: RedeemedCode) -> None:
        """Nothing to delete: the code was marked used when redeemed (kept to detect replays)."""

    def authenticate_user(self, authorization_code: RedeemedCode) -> Subject | None:
        row = authorization_code.row
        if user_claims(self.server.db, row.user_id, "") is None:
            return None
        return Subject(
            user_id=row.user_id,
            auth_time=row.auth_time,
            amr=list(row.amr),
            acr=row.acr,
            sid=row.sid,
        )


class RampartOpenIDCode(OpenIDCode):  # type: ignore[misc]
    """ID tokens for ``openid`` requests, signed with the active key (``typ: JWT``, ``sid``)."""

    def __init__(self) -> None:
        super().__init__(require_nonce=False)

    def exists_nonce(self, nonce: str, request: RampartOAuth2Request) -> bool:
        # A nonce seen before for this client (among codes not yet purged) is a replay.
        db = request.db
        found = db.execute(
            select(AuthorizationCode.id)
            .where(
                AuthorizationCode.client_id == request.payload.client_id,
                AuthorizationCode.nonce == nonce,
            )
            .limit(1)
        ).first()
        return found is not None

    def generate_user_info(self, user: Subject, scope: str) -> dict[str, Any]:
        raise NotImplementedError  # encode_id_token below reads claims itself

    def encode_id_token(self, token: dict[str, Any], request: RampartOAuth2Request) -> str:
        subject: Subject = request.user
        db = request.db
        claims = user_claims(db, subject.user_id, token.get("scope", "")) or {}
        claims.pop("sub", None)
        code: RedeemedCode = request.authorization_code
        return mint_id_token(
            db,
            client_id=request.client.get_client_id(),
            subject=subject,
            nonce=code.get_nonce() if code else None,
            access_token=token.get("access_token"),
            user_claims=claims,
        )
