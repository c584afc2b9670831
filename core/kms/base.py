"""The one interface every key-encryption-key provider implements.

Providers translate their own failures (network, hvac, file) into :class:`KmsUnavailable`
so callers fail closed with a 503 and write nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data-encryption key as stored: ciphertext from the KMS plus the KEK version that made it."""

    ciphertext: bytes
    kek_version: int


@dataclass(frozen=True, slots=True)
class KekInfo:
    name: str
    provider: str
    latest_version: int
    min_decryption_version: int
    created_at: str | None


class KeyEncryptionProvider(Protocol):
    """Wraps and unwraps data keys under the key-encryption key, and signs."""

    name: str

    def wrap(self, plaintext_key: bytes, *, context: bytes = b"") -> WrappedKey: ...

    def unwrap(self, wrapped: WrappedKey, *, context: bytes = b"") -> bytes: ...

    def rewrap(self, wrapped: WrappedKey, *, context: bytes = b"") -> WrappedKey:
        """Re-encrypt under the latest KEK version without exposing the plaintext where possible."""
        ...

    def rotate(self) -> KekInfo: ...

    def info(self) -> KekInfo: ...

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature over ``message`` with the provider's signing key."""
        ...

    def public_signing_key(self) -> bytes:
        """Raw 32-byte Ed25519 public key that verifies :meth:`sign`."""
        ...

    def check(self) -> None:
        """Raise KmsUnavailable unless the provider can wrap and unwrap right now."""
        ...
