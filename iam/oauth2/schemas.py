"""The wire and CLI shapes of OAuth clients: what an operator declares and what is shown back."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ClientType = Literal["confidential", "public"]
AuthMethod = Literal["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
GrantType = Literal[
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "urn:ietf:params:oauth:grant-type:device_code",  # RFC 8628
]

_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,100}$")  # RFC 6749 scope-token
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._~-]{3,100}$")
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def check_redirect_uri(uri: str) -> str:
    """Absolute, no fragment, https (or http on a loopback host, RFC 8252)."""
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        raise ValueError(f"redirect URI {uri!r} must not have a fragment")
    if parts.scheme == "https" and parts.hostname:
        return uri
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        return uri
    raise ValueError(f"redirect URI {uri!r} must be https (http only on a loopback host)")


class ClientSpec(BaseModel):
    """A client as declared (CLI, ``rampart apply``); the server derives the rest."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    client_id: str | None = Field(default=None, description="Chosen client_id; generated if empty.")
    client_type: ClientType = "confidential"
    token_endpoint_auth_method: AuthMethod | None = None
    redirect_uris: list[str] = Field(default_factory=list)
    post_logout_redirect_uris: list[str] = Field(default_factory=list)
    grant_types: list[GrantType] = Field(default_factory=lambda: ["client_credentials"])  # type: ignore[arg-type]
    scopes: list[str] = Field(default_factory=list)
    audiences: list[str] = Field(default_factory=list)
    first_party: bool = False
    jwks: dict[str, Any] | None = None

    @field_validator("client_id")
    @classmethod
    def _client_id_shape(cls, value: str | None) -> str | None:
        if value is not None and not _CLIENT_ID.fullmatch(value):
            raise ValueError("client_id must be 3-100 of A-Z a-z 0-9 . _ ~ -")
        return value

    @field_validator("redirect_uris", "post_logout_redirect_uris")
    @classmethod
    def _uris(cls, value: list[str]) -> list[str]:
        return [check_redirect_uri(uri) for uri in value]

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: list[str]) -> list[str]:
        for scope in value:
            if not _SCOPE_TOKEN.fullmatch(scope):
                raise ValueError(f"invalid scope {scope!r}")
        return sorted(set(value))

    @model_validator(mode="after")
    def _consistent(self) -> ClientSpec:
        if self.token_endpoint_auth_method is None:
            self.token_endpoint_auth_method = (
                "none" if self.client_type == "public" else "client_secret_basic"
            )
        method = self.token_endpoint_auth_method
        if self.client_type == "public" and method != "none":
            raise ValueError("a public client authenticates with 'none'")
        if self.client_type == "confidential" and method == "none":
            raise ValueError("a confidential client must authenticate")
        if self.client_type == "public" and "client_credentials" in self.grant_types:
            raise ValueError("a public client cannot use client_credentials")
        if "authorization_code" in self.grant_types and not self.redirect_uris:
            raise ValueError("authorization_code needs at least one redirect URI")
        person_grants = {"authorization_code", "urn:ietf:params:oauth:grant-type:device_code"}
        if "refresh_token" in self.grant_types and not person_grants & set(self.grant_types):
            raise ValueError("refresh_token only comes with authorization_code or device_code")
        if method == "private_key_jwt":
            keys = (self.jwks or {}).get("keys")
            if not isinstance(keys, list) or not keys:
                raise ValueError("private_key_jwt needs a jwks with at least one public key")
            for key in keys:
                if not isinstance(key, dict) or any(k in key for k in ("d", "p", "q", "k")):
                    raise ValueError("jwks must hold public keys only")
        self.grant_types = sorted(set(self.grant_types))
        return self


class ClientChanges(BaseModel):
    """What `rampart client update` may change; a field left out stays as it is."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    redirect_uris: list[str] | None = None
    post_logout_redirect_uris: list[str] | None = None
    grant_types: list[GrantType] | None = None
    scopes: list[str] | None = None
    audiences: list[str] | None = None
    first_party: bool | None = None
    enabled: bool | None = None


class ClientView(BaseModel):
    """A client as listed: never a secret."""

    client_id: str
    name: str
    client_type: str
    token_endpoint_auth_method: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    grant_types: list[str]
    scopes: list[str]
    audiences: list[str]
    first_party: bool
    enabled: bool
    has_jwks: bool
    created_at: datetime
    secret_rotated_at: datetime | None


class IssuedClientSecret(BaseModel):
    """Shown exactly once, right after creation or rotation."""

    client_id: str
    client_secret: str
