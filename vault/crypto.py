"""Value encryption (AES-256-GCM, associated data binding tenant, type and token) and keyed
fingerprints (HMAC-SHA256 under a per-tenant key, never a plain hash)."""

from __future__ import annotations

import functools
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hmac import HMAC

from core.errors import RampartError
from core.kms.service import on_data_key_destroyed

# Layout of a stored value: version (1) | nonce (12) | ciphertext + tag (16).
CIPHERTEXT_VERSION = b"\x01"
NONCE_BYTES = 12
_AAD_LABEL = b"rampart.vault.v1"
_FP_LABEL = b"rampart.vault.fingerprint.v2"  # v1 had no scope
# Cipher and MAC objects kept per data key: a batch uses one or a few keys, and building them
# per value cost more than the encryption. They hold key material, so the bound is small (the
# KMS cache bounds how many keys are resident; this adds at most this many more).
CACHED_KEYS = 32


class CiphertextTampered(RampartError):
    slug, title = "vault-ciphertext-tampered", "Stored value failed authentication"


def associated_data(tenant: str, token_type: str, token: str) -> bytes:
    # NUL separators: none of the parts may contain NUL, so no two triples encode alike.
    return b"\x00".join((_AAD_LABEL, tenant.encode(), token_type.encode(), token.encode()))


def encrypt_value(key: bytes, value: str, aad: bytes, *, nonce: bytes | None = None) -> bytes:
    """``nonce``: 12 fresh random bytes when the caller read randomness for a whole batch at
    once (never reused); drawn here otherwise."""
    if nonce is None:
        nonce = os.urandom(NONCE_BYTES)
    elif len(nonce) != NONCE_BYTES:
        raise ValueError("an AES-GCM nonce here is 12 bytes")
    return CIPHERTEXT_VERSION + nonce + _aead(key).encrypt(nonce, value.encode(), aad)


def decrypt_value(key: bytes, blob: bytes, aad: bytes) -> str:
    if blob[:1] != CIPHERTEXT_VERSION:
        raise CiphertextTampered("stored value has an unknown layout")
    nonce, sealed = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return _aead(key).decrypt(nonce, sealed, aad).decode()
    except InvalidTag:
        # Moved onto another token, type or tenant, or altered: refuse rather than guess.
        raise CiphertextTampered("stored value does not authenticate for this token") from None


def fingerprint(key: bytes, token_type: str, value: str, scope: str) -> bytes:
    """HMAC-SHA256 of the normalized value, per tenant key, type and comparison scope (PCI DSS
    3.5.1.1; vault.oracles): the same value has unrelated fingerprints in two scopes, so one
    caller's cannot be matched against another's."""
    return _hmac_sha256(
        key,
        b"\x00".join((_FP_LABEL, token_type.encode(), scope.encode())) + b"\x00" + value.encode(),
    )


def deterministic_entropy(key: bytes, token_type: str, fmt: str, attempt: int, fp: bytes) -> bytes:
    """Randomness for a convergent token: same value, format and attempt -> same token."""
    message = b"\x00".join((b"token", token_type.encode(), fmt.encode(), str(attempt).encode(), fp))
    return _hmac_sha256(key, message)


def forget_cached_keys() -> None:
    """Drop every cipher and MAC object built from a data key (after a key is destroyed)."""
    _aead.cache_clear()
    _keyed_hmac.cache_clear()


@functools.lru_cache(maxsize=CACHED_KEYS)
def _aead(key: bytes) -> AESGCM:
    return AESGCM(key)


@functools.lru_cache(maxsize=CACHED_KEYS)
def _keyed_hmac(key: bytes) -> HMAC:
    # Never finalized: each message works on a copy, which skips re-deriving the padded keys.
    return HMAC(key, hashes.SHA256())


def _hmac_sha256(key: bytes, message: bytes) -> bytes:
    mac = _keyed_hmac(key).copy()
    mac.update(message)
    return mac.finalize()


on_data_key_destroyed(forget_cached_keys)
