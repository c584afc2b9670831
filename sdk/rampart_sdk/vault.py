"""The tokenization vault: tokenize values before storing them, detokenize only with a purpose.
Values travel in request bodies only, never in URLs or logs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rampart_sdk.http import ServiceSession

VAULT_PATH = "/v1/vault"


@dataclass(frozen=True, slots=True)
class Token:
    token: str
    type: str
    format: str
    fingerprint: str | None
    expires_at: str | None


class VaultClient:
    def __init__(self, session: ServiceSession) -> None:
        self._session = session

    def tokenize(
        self,
        token_type: str,
        value: str,
        *,
        subject: str | None = None,
        ttl_seconds: int | None = None,
        token_format: str | None = None,
    ) -> Token:
        body: dict[str, Any] = {"value": value}
        if subject is not None:
            body["subject"] = subject
        if ttl_seconds is not None:
            body["ttl_seconds"] = ttl_seconds
        if token_format is not None:
            body["format"] = token_format
        out = self._session.call("POST", f"{VAULT_PATH}/{token_type}/tokens", json=body)
        return Token(
            token=out["token"],
            type=out["type"],
            format=out["format"],
            fingerprint=out.get("fingerprint"),
            expires_at=out.get("expires_at"),
        )

    def detokenize(self, token_type: str, token: str, *, purpose: str) -> str:
        """The value behind ``token``; Rampart audits the call with its purpose."""
        out = self._session.call(
            "POST",
            f"{VAULT_PATH}/{token_type}/detokenize",
            json={"token": token, "purpose": purpose},
        )
        return str(out["value"])
