"""Checkpoint signatures: what is signed, by whom (a :class:`Signer`), and how it is checked."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

# Domain separation: the same KMS key also signs evidence exports, so a checkpoint signature
# must never be a valid signature over some other artefact's bytes (and vice versa).
CHECKPOINT_CONTEXT = b"rampart-audit-checkpoint/v1"


class Signer(Protocol):
    """Satisfied by every KMS provider (core.kms.base.KeyEncryptionProvider) and by test keys."""

    def sign(self, message: bytes) -> bytes: ...

    def public_signing_key(self) -> bytes: ...


def checkpoint_message(seq: int, entry_hash: str) -> bytes:
    """``rampart-audit-checkpoint/v1|<seq>|<hash hex>`` in ASCII."""
    return b"%s|%d|%s" % (CHECKPOINT_CONTEXT, seq, entry_hash.encode("ascii"))


def key_fingerprint(public_key: bytes) -> str:
    """SHA-256 (hex) of the raw 32-byte Ed25519 public key."""
    return hashlib.sha256(public_key).hexdigest()


class TrustedKeys:
    """The public keys the verifier trusts (given by the caller, never read from the rows)."""

    def __init__(self, public_keys: Iterable[bytes]) -> None:
        self._keys = {
            key_fingerprint(raw): Ed25519PublicKey.from_public_bytes(raw) for raw in public_keys
        }

    def __len__(self) -> int:
        return len(self._keys)

    def verify(self, seq: int, entry_hash: str, signature: bytes, fingerprint: str) -> bool:
        message = checkpoint_message(seq, entry_hash)
        # The stored fingerprint only orders the attempts; any trusted key may vouch.
        candidates = sorted(self._keys.items(), key=lambda item: item[0] != fingerprint)
        for _, key in candidates:
            try:
                key.verify(signature, message)
            except InvalidSignature:
                continue
            return True
        return False
