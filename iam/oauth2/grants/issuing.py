"""What every grant does to mint a token response: the JWT access token (audience per RFC 8707
``resource`` or the client's default), an opaque refresh token when the grant gives one."""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import OAuth2Error

from iam.oauth2.registered_client import RegisteredClient
from iam.oauth2.requests import RampartOAuth2Request
from iam.oauth2.token_store import new_refresh_token
from iam.oauth2.tokens import Subject, access_token_audience, mint_access_token


class InvalidTargetError(OAuth2Error):  # type: ignore[misc]
    """RFC 8707: the requested resource is not one this client may address."""

    error = "invalid_target"


def target_audience(audiences: list[str], scope: str, resource: str | None) -> list[str]:
    """The token's audience: the RFC 8707 ``resource`` if the client may address it (else
    invalid_target), the client's default otherwise."""
    if resource is not None and resource not in audiences:
        raise InvalidTargetError(description="The resource is not allowed for this client.")
    return access_token_audience(audiences, scope, resource)


class IssuesRampartTokens:
    """Mixin for authlib's grants (authorization code, refresh, device code: all for a user):
    replaces the server-wide token generator."""

    request: RampartOAuth2Request
    server: Any

    def generate_token(
        self,
        user: Subject | None = None,
        scope: str | None = None,
        grant_type: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        client: RegisteredClient = self.request.client
        scope = scope or ""
        resource = self.request.form.get("resource")
        audience = target_audience(list(client.row.audiences), scope, resource)
        access_token, issued, ttl = mint_access_token(
            self.server.db,
            client_id=client.get_client_id(),
            subject=user,
            scope=scope,
            audience=audience,
        )
        self.request.issued = issued
        token: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ttl,
            "scope": scope,
        }
        if include_refresh_token:
            token["refresh_token"] = new_refresh_token()
        return token
