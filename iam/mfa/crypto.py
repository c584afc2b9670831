"""AES-256-GCM sealing of small values (TOTP secrets at rest, the pending enrolment secret in a
form) under the IdP's derived keys, bound to a context so a sealed value cannot be moved."""

from __future__ import annotations

import base64
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from iam.sessions import secret_keys

NONCE_BYTES = 12


def seal(db: Session, label: str, plaintext: bytes, context: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    key = secret_keys.derived_key(db, label)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context)


def unseal(db: Session, label: str, sealed: bytes, context: bytes) -> bytes | None:
    """The plaintext, or None when the value was forged, moved or sealed under another key."""
    if len(sealed) <= NONCE_BYTES + 16:
        return None
    key = secret_keys.derived_key(db, label)
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context)
    except InvalidTag:
        return None


def to_text(sealed: bytes) -> str:
    return base64.urlsafe_b64encode(sealed).decode("ascii")


def from_text(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return None
