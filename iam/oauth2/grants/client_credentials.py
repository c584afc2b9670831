"""Client credentials grant: a service authenticates as itself; no refresh token."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import grants

from iam.oauth2.grants.issuing import IssuesRampartTokens


class ClientCredentialsGrant(IssuesRampartTokens, grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
