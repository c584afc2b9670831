"""Provider metadata, served as OIDC Discovery and as RFC 8414 authorization-server metadata."""

from __future__ import annotations

from typing import Any

from core.settings import get_settings
from iam.keys.jws import SUPPORTED_ALGS
from iam.sessions.service import ACR_MFA, ACR_PASSWORD

AUTHORIZE_PATH = "/oauth2/authorize"
TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a path, not a secret
INTROSPECT_PATH = "/oauth2/introspect"
REVOKE_PATH = "/oauth2/revoke"
USERINFO_PATH = "/oauth2/userinfo"
LOGOUT_PATH = "/oauth2/logout"
JWKS_PATH = "/.well-known/jwks.json"
DEVICE_AUTHORIZATION_PATH = "/oauth2/device_authorization"

_CONFIDENTIAL = ["client_secret_basic", "client_secret_post", "private_key_jwt"]


def provider_metadata() -> dict[str, Any]:
    issuer = get_settings().issuer
    return {
        "issuer": issuer,
        "authorization_endpoint": issuer + AUTHORIZE_PATH,
        "token_endpoint": issuer + TOKEN_PATH,
        "introspection_endpoint": issuer + INTROSPECT_PATH,
        "revocation_endpoint": issuer + REVOKE_PATH,
        "device_authorization_endpoint": issuer + DEVICE_AUTHORIZATION_PATH,
        "userinfo_endpoint": issuer + USERINFO_PATH,
        "end_session_endpoint": issuer + LOGOUT_PATH,
        "jwks_uri": issuer + JWKS_PATH,
        "scopes_supported": ["openid", "profile", "email"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code",
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(SUPPORTED_ALGS),
        "token_endpoint_auth_methods_supported": [*_CONFIDENTIAL, "none"],
        "token_endpoint_auth_signing_alg_values_supported": list(SUPPORTED_ALGS),
        "introspection_endpoint_auth_methods_supported": _CONFIDENTIAL,
        "introspection_endpoint_auth_signing_alg_values_supported": list(SUPPORTED_ALGS),
        "revocation_endpoint_auth_methods_supported": [*_CONFIDENTIAL, "none"],
        "revocation_endpoint_auth_signing_alg_values_supported": list(SUPPORTED_ALGS),
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
        "acr_values_supported": [ACR_PASSWORD, ACR_MFA],
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "acr",
            "amr",
            "sid",
            "azp",
            "at_hash",
            "email",
            "email_verified",
            "name",
            "updated_at",
        ],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "require_pushed_authorization_requests": False,
    }
