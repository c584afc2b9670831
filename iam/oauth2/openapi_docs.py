"""What the OpenAPI document says about the OAuth 2.0 / OpenID Connect endpoints: their form
bodies and answers (RFC 6749, 7009, 7662, 8628, OpenID Connect Core and Discovery). The
handlers read the raw form themselves (authlib decides), so the bodies are described here, as
``openapi_extra``; the answers are the models below."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

FORM_TYPE = "application/x-www-form-urlencoded"
HTML_TYPE = "text/html"


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class OAuthError(BaseModel):
    """RFC 6749 §5.2 error answer (never problem+json: every OAuth client parses this)."""

    error: str = Field(examples=["invalid_client"])
    error_description: str | None = None


class TokenResponse(_Open):
    """RFC 6749 §5.1; ``id_token`` for OpenID Connect, ``refresh_token`` when granted."""

    access_token: str
    token_type: str = Field(examples=["Bearer"])
    expires_in: int
    scope: str | None = None
    refresh_token: str | None = None
    id_token: str | None = None


class IntrospectionResponse(_Open):
    """RFC 7662 §2.2: ``active`` false for any token that is not valid now."""

    active: bool
    scope: str | None = None
    client_id: str | None = None
    sub: str | None = None
    exp: int | None = None
    iat: int | None = None
    iss: str | None = None
    token_type: str | None = None


class DeviceAuthorizationResponse(BaseModel):
    """RFC 8628 §3.2."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None = None
    expires_in: int
    interval: int | None = None


class UserInfo(_Open):
    """OpenID Connect Core §5.3.2: the claims the access token's scopes release."""

    sub: str


class ProviderMetadata(_Open):
    """OpenID Connect Discovery 1.0 / RFC 8414 metadata."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


class JsonWebKeySet(BaseModel):
    """RFC 7517 §5: the public keys tokens are verified with."""

    keys: list[dict[str, Any]]


_CLIENT_AUTH = {
    "client_id": {"type": "string", "maxLength": 255},
    "client_secret": {"type": "string", "maxLength": 512},
    "client_assertion_type": {"type": "string", "maxLength": 255},
    "client_assertion": {"type": "string", "maxLength": 8192},
}


def form_body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """``openapi_extra`` declaring a form body (client authentication fields included: they
    may also come as HTTP Basic, RFC 6749 §2.3.1)."""
    schema = {
        "type": "object",
        "properties": {**properties, **_CLIENT_AUTH},
        "required": required,
    }
    return {"requestBody": {"required": True, "content": {FORM_TYPE: {"schema": schema}}}}


def json_answer(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"model": model, "description": description}


OAUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    400: json_answer(OAuthError, "Invalid request or grant (RFC 6749 §5.2)"),
    401: json_answer(OAuthError, "Client authentication failed"),
    503: json_answer(OAuthError, "temporarily_unavailable: a dependency is down"),
}


def html_answer(description: str) -> dict[str, Any]:
    return {"description": description, "content": {HTML_TYPE: {"schema": {"type": "string"}}}}


REDIRECT = {"description": "Redirect back to the client or on to the login page"}

TOKEN_FORM = form_body(
    {
        "grant_type": {
            "type": "string",
            "enum": [
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "urn:ietf:params:oauth:grant-type:device_code",
            ],
        },
        "code": {"type": "string", "maxLength": 512},
        "redirect_uri": {"type": "string", "maxLength": 2048},
        "code_verifier": {"type": "string", "maxLength": 128},
        "refresh_token": {"type": "string", "maxLength": 512},
        "device_code": {"type": "string", "maxLength": 512},
        "scope": {"type": "string", "maxLength": 1024},
        "resource": {"type": "string", "maxLength": 2048},
    },
    ["grant_type"],
)
TOKEN_HINT = {"token_type_hint": {"type": "string", "enum": ["access_token", "refresh_token"]}}
INTROSPECT_FORM = form_body(
    {"token": {"type": "string", "maxLength": 8192}, **TOKEN_HINT}, ["token"]
)
REVOKE_FORM = form_body({"token": {"type": "string", "maxLength": 8192}, **TOKEN_HINT}, ["token"])
DEVICE_FORM = form_body({"scope": {"type": "string", "maxLength": 1024}}, [])

AUTHORIZE_PARAMETERS: dict[str, Any] = {
    "parameters": [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in (
            "response_type",
            "client_id",
            "redirect_uri",
            "scope",
            "state",
            "nonce",
            "code_challenge",
            "code_challenge_method",
            "prompt",
            "max_age",
            "acr_values",
            "login_hint",
        )
    ]
}
LOGOUT_PARAMETERS: dict[str, Any] = {
    "parameters": [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in ("id_token_hint", "post_logout_redirect_uri", "state", "client_id")
    ]
}
