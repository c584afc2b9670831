"""The client as authlib sees it (its ClientMixin contract) over our ``OAuth2Client`` row. Its
secret is never checked here: iam.oauth2.client_auth authenticates every client."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin
from sqlalchemy.orm import Session

from iam.oauth2.client_cache import allowed_scope
from iam.oauth2.models import OAuth2Client


class RegisteredClient(ClientMixin):  # type: ignore[misc]
    def __init__(self, db: Session, row: OAuth2Client) -> None:
        self.db = db
        self.row = row
        self.client_id = row.client_id

    def __repr__(self) -> str:
        return f"RegisteredClient({self.client_id!r})"

    @property
    def is_public(self) -> bool:
        return self.row.client_type == "public"

    @property
    def jwks(self) -> dict[str, Any] | None:
        return self.row.jwks

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        # redirect_uri is always required: no guessing on the client's behalf.
        return None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        return allowed_scope(self.row.scopes, scope)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string match against the registered list (no prefix, no wildcard).
        return redirect_uri in self.row.redirect_uris

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.row.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.row.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.row.grant_types
