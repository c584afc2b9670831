"""Rampart SDK: verify access tokens locally, check permissions, tokenize through the vault."""

from rampart_sdk.client import Rampart
from rampart_sdk.errors import (
    PermissionDenied,
    RampartRequestFailed,
    RampartSdkError,
    RampartUnavailable,
    TokenInvalid,
)
from rampart_sdk.jwks import JwksCache
from rampart_sdk.permissions import Check, Decision, PermissionClient
from rampart_sdk.tokens import AccessToken, TokenVerifier
from rampart_sdk.vault import Token, VaultClient

__all__ = [
    "AccessToken",
    "Check",
    "Decision",
    "JwksCache",
    "PermissionClient",
    "PermissionDenied",
    "Rampart",
    "RampartRequestFailed",
    "RampartSdkError",
    "RampartUnavailable",
    "Token",
    "TokenInvalid",
    "TokenVerifier",
    "VaultClient",
]
