"""The one interface every key-encryption-key provider implements.

Providers translate their own failures (network, hvac, file) into :class:`KmsUnavailable`
so callers fail closed with a 503 and write nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data-encryption key as stored: the KMS ciphertext and the KEK version that made it."""

    ciphertext: bytes
    kek_version: int

    def __repr__(self) -> str:
        # Wrapped bytes are not secret, but they have no business in logs either.
        return f"WrappedKey(kek_version={self.kek_version}, {len(self.ciphertext)} bytes)"


@dataclass(frozen=True, slots=True)
class KekInfo:
    """What can be said about the key-encryption key without revealing it."""

    name: str
    provider: str
    latest_version: int
    min_decryption_version: int
    created_at: str | None
    versions: tuple[int, ...] = field(default=())


class KeyEncryptionProvider(Protocol):
    """Wraps and unwraps data keys under the key-encryption key, and signs.

    ``context`` is bound to the ciphertext: unwrapping with another context fails. Callers
    pass something that names the key's owner (``data-key:<id>:<purpose>``) so a wrapped key
    copied onto another row cannot be opened there.
    """

    name: str

    def ensure_keys(self) -> list[str]:
        """Create the key-encryption and signing keys when missing; keep existing ones.

        Returns what was created, for ``rampart init`` to report (empty when nothing was)."""
        ...

    def wrap(self, plaintext_key: bytes, *, context: bytes = b"") -> WrappedKey: ...

    def wrap_many(self, items: Sequence[tuple[bytes, bytes]]) -> list[WrappedKey]:
        """Wrap ``(plaintext_key, context)`` pairs, in one round trip where the KMS allows."""
        ...

    def unwrap(self, wrapped: WrappedKey, *, context: bytes = b"") -> bytes: ...

    def rewrap(self, wrapped: WrappedKey, *, context: bytes = b"") -> WrappedKey:
        """Re-encrypt under the latest KEK version without exposing the plaintext where possible."""
        ...

    def rewrap_many(self, items: Sequence[tuple[WrappedKey, bytes]]) -> list[WrappedKey]:
        """Rewrap ``(wrapped, context)`` pairs, in one round trip where the KMS allows."""
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
