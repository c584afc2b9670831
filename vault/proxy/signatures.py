"""Inbound requests are signed by their sender (the payment gateway) with the route's secret:
``Rampart-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` over ``t.METHOD.path.`` + body.
The timestamp bounds replays; the comparison is constant-time."""

from __future__ import annotations

import hashlib
import hmac

from vault.proxy.exceptions import SignatureInvalid

SIGNATURE_HEADER = "rampart-signature"


def signed_message(timestamp: int, method: str, path: str, body: bytes) -> bytes:
    return f"{timestamp}.{method.upper()}.{path}.".encode() + body


def sign(secret: bytes, timestamp: int, method: str, path: str, body: bytes) -> str:
    """The header value a sender puts on a request (used by tests and client examples)."""
    digest = hmac.new(secret, signed_message(timestamp, method, path, body), hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(
    secret: bytes,
    header: str | None,
    *,
    method: str,
    path: str,
    body: bytes,
    now: float,
    tolerance_seconds: int,
) -> None:
    """Raise SignatureInvalid unless ``header`` signs this request with ``secret`` recently."""
    if not header or len(header) > 512:
        raise SignatureInvalid("sign the request: Rampart-Signature: t=...,v1=...")
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    timestamp, given = parts.get("t", ""), parts.get("v1", "")
    if not timestamp.isdigit() or not given:
        raise SignatureInvalid("sign the request: Rampart-Signature: t=...,v1=...")
    if abs(now - int(timestamp)) > tolerance_seconds:
        raise SignatureInvalid("the signature's timestamp is too old or in the future")
    expected = hmac.new(
        secret, signed_message(int(timestamp), method, path, body), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected.encode(), given.strip().lower().encode()):
        raise SignatureInvalid("the signature does not match")
