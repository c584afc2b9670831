"""authlib's AuthorizationServer wired to Rampart: clients from the database, our grants and
endpoints, RFC 9207 ``iss`` on authorization responses, Starlette responses. One instance per
request, holding that request's sync database session (authlib runs in the threadpool)."""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import AuthorizationServer as _AuthorizationServer
from authlib.oauth2.rfc8628 import DEVICE_CODE_GRANT_TYPE
from authlib.oauth2.rfc9207 import IssuerParameter as _IssuerParameter
from sqlalchemy.orm import Session
from starlette.responses import Response

from core.audit.service import record_event
from core.settings import get_settings
from iam.oauth2 import service, token_store
from iam.oauth2.client_auth import (
    ClientAuthenticationFailed,
    authenticate_client_in,
    presented_client,
)
from iam.oauth2.grants.authorization_code import (
    AuthorizationCodeGrant,
    RampartOpenIDCode,
    RedeemedCode,
    S256CodeChallenge,
)
from iam.oauth2.grants.device_code import (
    PresentedDeviceCode,
    RampartDeviceAuthorizationEndpoint,
    RampartDeviceCodeGrant,
)
from iam.oauth2.grants.refresh_token import PresentedRefreshToken, RefreshTokenGrant
from iam.oauth2.models import RefreshFamily
from iam.oauth2.registered_client import RegisteredClient
from iam.oauth2.requests import RampartOAuth2Request, RequestSnapshot
from iam.oauth2.responses import json_answer
from iam.oauth2.token_endpoints import RevocationEndpoint
from iam.oauth2.tokens import Subject


class OAuth2Response(Response):
    """A Starlette response with the ``location`` attribute authlib's extensions edit."""

    @property
    def location(self) -> str | None:
        return self.headers.get("location")

    @location.setter
    def location(self, value: str) -> None:
        self.headers["location"] = value


class IssuerParameter(_IssuerParameter):  # type: ignore[misc]
    def get_issuer(self) -> str:
        return get_settings().issuer


class AuthorizationServer(_AuthorizationServer):  # type: ignore[misc]
    def __init__(self, db: Session) -> None:
        super().__init__(scopes_supported=None)
        self.db = db
        self._clients: dict[str, RegisteredClient | None] = {}
        self.register_grant(
            AuthorizationCodeGrant, [S256CodeChallenge(required=True), RampartOpenIDCode()]
        )
        self.register_grant(RefreshTokenGrant)
        self.register_grant(RampartDeviceCodeGrant)
        self.register_endpoint(RampartDeviceAuthorizationEndpoint)
        self.register_endpoint(RevocationEndpoint)
        self.register_extension(IssuerParameter())

    # ---- authlib hooks ------------------------------------------------------------------

    def query_client(self, client_id: Any) -> RegisteredClient | None:
        if not isinstance(client_id, str) or not client_id or len(client_id) > 100:
            return None
        if client_id not in self._clients:
            row = service.get_client(self.db, client_id)
            usable = row is not None and row.enabled  # a disabled client is as unknown
            self._clients[client_id] = RegisteredClient(self.db, row) if row and usable else None
        return self._clients[client_id]

    def authenticate_client(
        self, request: RampartOAuth2Request, methods: list[str], endpoint: str = "token"
    ) -> RegisteredClient:
        """Replaces authlib's client authentication with Rampart's one implementation
        (iam.oauth2.client_auth), so a client authenticates alike on every endpoint."""
        presented = presented_client(request.headers, request.form)
        authenticated = authenticate_client_in(self.db, presented, methods)
        client = self.query_client(authenticated.client_id)
        if client is None:  # deleted or disabled since the cache last read it
            raise ClientAuthenticationFailed()
        request.auth_method = presented.method  # PKCE (RFC 7636) reads it
        return client

    def create_oauth2_request(self, request: Any) -> RampartOAuth2Request:
        if isinstance(request, RampartOAuth2Request):
            return request
        if not isinstance(request, RequestSnapshot):
            raise TypeError("expected a RequestSnapshot")
        oauth_request = RampartOAuth2Request(request)
        oauth_request.db = self.db
        return oauth_request

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError("no JSON endpoints (dynamic registration is not offered)")

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """authlib's signals are not used: auditing happens where the state changes."""

    def handle_response(
        self, status: int, body: Any, headers: list[tuple[str, str]]
    ) -> OAuth2Response:
        answer = json_answer(status, body, headers)
        return OAuth2Response(answer.body, status_code=status, headers=dict(answer.headers))

    def save_token(self, token: dict[str, Any], request: RampartOAuth2Request) -> None:
        """Remember what this grant issued (refresh generation, code → tokens) and audit it."""
        client: RegisteredClient = request.client
        client_id = client.get_client_id()
        grant_type = request.payload.grant_type
        issued = request.issued
        details: dict[str, Any] = {
            "client_id": client_id,
            "grant_type": grant_type,
            "jti": issued.jti,
            "scope": token.get("scope", ""),
        }
        subject: Subject | None = request.user if isinstance(request.user, Subject) else None
        family = None
        if grant_type == "authorization_code":
            code: RedeemedCode = request.authorization_code
            code.row.issued_access_jti = issued.jti
            code.row.issued_access_expires_at = issued.expires_at
            if "refresh_token" in token and subject is not None:
                family = self._start_family(client_id, subject, code.row.scope)
                code.row.issued_family_id = family.id
        elif grant_type == DEVICE_CODE_GRANT_TYPE:
            device: PresentedDeviceCode = request.credential
            details["device_request"] = str(device.row.id)
            if "refresh_token" in token and subject is not None:
                family = self._start_family(client_id, subject, device.row.scope)
        elif grant_type == "refresh_token":
            presented: PresentedRefreshToken = request.refresh_token
            family = presented.lookup.family
        if family is not None and "refresh_token" in token:
            generation = token_store.add_generation(self.db, family, token["refresh_token"], issued)
            details["family_id"] = str(family.id)
            details["generation"] = generation.generation
        if subject is not None:
            details["sub"] = str(subject.user_id)
        self.db.flush()
        record_event(
            self.db,
            event_type="oauth2.token.issued",
            actor=f"user:{subject.user_id}" if subject else f"client:{client_id}",
            resource=f"oauth2_client:{client_id}",
            details=details,
        )

    def _start_family(self, client_id: str, subject: Subject, scope: str) -> RefreshFamily:
        return token_store.start_family(
            self.db,
            client_id=client_id,
            user_id=subject.user_id,
            scope=scope,
            auth_time=subject.auth_time,
            amr=list(subject.amr),
            acr=subject.acr,
            sid=subject.sid,
            lifetime_seconds=get_settings().refresh_token_ttl,
        )
