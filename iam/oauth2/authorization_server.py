"""authlib's AuthorizationServer wired to Rampart: clients from the database, our grants and
endpoints, RFC 9207 ``iss`` on authorization responses, Starlette responses. One instance per
request, holding that request's sync database session (authlib runs in the threadpool)."""

from __future__ import annotations

from typing import Any

import orjson
from authlib.oauth2 import AuthorizationServer as _AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc8628 import DEVICE_CODE_GRANT_TYPE
from authlib.oauth2.rfc9207 import IssuerParameter as _IssuerParameter
from sqlalchemy.orm import Session
from starlette.responses import Response

from core.audit.service import record_event
from core.settings import get_settings
from iam.oauth2 import service, token_store
from iam.oauth2.client_auth import PrivateKeyJwtAuthentication
from iam.oauth2.client_secrets import spend_dummy_secret_check
from iam.oauth2.grants.authorization_code import (
    AuthorizationCodeGrant,
    RampartOpenIDCode,
    RedeemedCode,
    S256CodeChallenge,
)
from iam.oauth2.grants.client_credentials import ClientCredentialsGrant
from iam.oauth2.grants.device_code import (
    PresentedDeviceCode,
    RampartDeviceAuthorizationEndpoint,
    RampartDeviceCodeGrant,
)
from iam.oauth2.grants.refresh_token import PresentedRefreshToken, RefreshTokenGrant
from iam.oauth2.models import RefreshFamily
from iam.oauth2.registered_client import RegisteredClient
from iam.oauth2.requests import RampartOAuth2Request, RequestSnapshot
from iam.oauth2.token_endpoints import IntrospectionEndpoint, RevocationEndpoint
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


class ClientAuthenticationFailed(InvalidClientError):  # type: ignore[misc]
    """The one answer to every failed client authentication — unknown client, wrong secret,
    wrong method, bad assertion — so it tells neither which client ids exist nor how they
    authenticate (RFC 6749 §5.2: 401 with a ``WWW-Authenticate`` challenge)."""

    status_code = 401
    description = "Client authentication failed."

    def __init__(self) -> None:
        super().__init__(description=self.description, status_code=401)


class AuthorizationServer(_AuthorizationServer):  # type: ignore[misc]
    def __init__(self, db: Session) -> None:
        super().__init__(scopes_supported=None)
        self.db = db
        self._clients: dict[str, RegisteredClient | None] = {}
        self.register_grant(
            AuthorizationCodeGrant, [S256CodeChallenge(required=True), RampartOpenIDCode()]
        )
        self.register_grant(RefreshTokenGrant)
        self.register_grant(ClientCredentialsGrant)
        self.register_grant(RampartDeviceCodeGrant)
        self.register_endpoint(RampartDeviceAuthorizationEndpoint)
        self.register_endpoint(IntrospectionEndpoint)
        self.register_endpoint(RevocationEndpoint)
        self.register_client_auth_method("private_key_jwt", PrivateKeyJwtAuthentication(db))
        self.register_extension(IssuerParameter())

    # ---- authlib hooks ------------------------------------------------------------------

    def query_client(self, client_id: Any) -> RegisteredClient | None:
        if not isinstance(client_id, str) or not client_id or len(client_id) > 100:
            return None
        if client_id not in self._clients:
            row = service.get_client(self.db, client_id)
            if row is None or not row.enabled:
                spend_dummy_secret_check(None)  # as long as a known client's secret check
            usable = row is not None and row.enabled  # a disabled client is as unknown
            self._clients[client_id] = RegisteredClient(self.db, row) if row and usable else None
        return self._clients[client_id]

    def authenticate_client(
        self, request: RampartOAuth2Request, methods: list[str], endpoint: str = "token"
    ) -> RegisteredClient:
        try:
            client: RegisteredClient = super().authenticate_client(request, methods, endpoint)
        except InvalidClientError as exc:
            raise ClientAuthenticationFailed() from exc
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
        header_map = dict(headers)
        if isinstance(body, dict):
            content = orjson.dumps(body)
            header_map["Content-Type"] = "application/json"
        else:
            content = (body or "").encode("utf-8")
        header_map.setdefault("Cache-Control", "no-store")
        return OAuth2Response(content, status_code=status, headers=header_map)

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
