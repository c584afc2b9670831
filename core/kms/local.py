"""Embedded key provider: AES-256-GCM wrapping and Ed25519 signing with keys from the local key
file. The file is re-read when another process (``rampart keys rotate``) replaced it."""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from core.errors import KmsUnavailable
from core.kms import keyfile
from core.kms.base import KekInfo, WrappedKey
from core.kms.exceptions import KeyUnwrapFailed, KmsMisconfigured

# Ciphertext layout: magic (1) | KEK version (4, big endian) | nonce (12) | AES-GCM ciphertext+tag.
MAGIC = b"\x01"
NONCE_BYTES = 12
HEADER_BYTES = 1 + 4 + NONCE_BYTES
AAD_PREFIX = keyfile.FORMAT.encode() + b"\x00"

# How a file is told apart from the one loaded before it without reading it again.
FileStamp = tuple[int, int, int]


class LocalKeyProvider:
    """Key-encryption keys from a JSON key file under the data directory."""

    name = "local"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._loaded: keyfile.KeyFile | None = None
        self._stamp: FileStamp | None = None
        self._signing: tuple[bytes, Ed25519PrivateKey] | None = None

    def ensure_keys(self) -> list[str]:
        if keyfile.create_local_key_file(self.path):
            return [f"local key file {self.path}"]
        return []

    def wrap(self, plaintext_key: bytes, *, context: bytes = b"") -> WrappedKey:
        keys = self._keys()
        version = keys.latest_version
        nonce = secrets.token_bytes(NONCE_BYTES)
        header = MAGIC + version.to_bytes(4, "big") + nonce
        sealed = AESGCM(keys.keks[version].key).encrypt(
            nonce, plaintext_key, _aad(version, context)
        )
        return WrappedKey(ciphertext=header + sealed, kek_version=version)

    def wrap_many(self, items: Sequence[tuple[bytes, bytes]]) -> list[WrappedKey]:
        return [self.wrap(key, context=context) for key, context in items]

    def unwrap(self, wrapped: WrappedKey, *, context: bytes = b"") -> bytes:
        blob = wrapped.ciphertext
        if len(blob) < HEADER_BYTES + 16 or blob[:1] != MAGIC:
            raise KeyUnwrapFailed("wrapped key is not in the local provider's format")
        version = int.from_bytes(blob[1:5], "big")
        keys = self._keys()
        if version not in keys.keks:
            keys = self._keys(force_reload=True)
        if version not in keys.keks or version < keys.min_decryption_version:
            raise KmsMisconfigured(f"key-encryption key version {version} is not available")
        try:
            return AESGCM(keys.keks[version].key).decrypt(
                blob[5:HEADER_BYTES], blob[HEADER_BYTES:], _aad(version, context)
            )
        except InvalidTag:
            raise KeyUnwrapFailed("wrapped key does not authenticate under this context") from None

    def rewrap(self, wrapped: WrappedKey, *, context: bytes = b"") -> WrappedKey:
        # The KEK lives in this process anyway, so unwrapping here exposes nothing new.
        return self.wrap(self.unwrap(wrapped, context=context), context=context)

    def rewrap_many(self, items: Sequence[tuple[WrappedKey, bytes]]) -> list[WrappedKey]:
        return [self.rewrap(wrapped, context=context) for wrapped, context in items]

    def rotate(self) -> KekInfo:
        with self._lock, keyfile.locked(self.path):
            keys = keyfile.load_key_file(self.path)
            keys.add_kek_version()
            keyfile.save_key_file(self.path, keys)
            self._loaded, self._stamp = keys, _stamp(self.path)
        return self.info()

    def info(self) -> KekInfo:
        keys = self._keys()
        return KekInfo(
            name=self.path.name,
            provider=self.name,
            latest_version=keys.latest_version,
            min_decryption_version=keys.min_decryption_version,
            created_at=keys.keks[keys.latest_version].created_at,
            versions=tuple(sorted(keys.keks)),
        )

    def _signing_key(self) -> Ed25519PrivateKey:
        """The signing key, parsed again only when the key file's bytes change (evidence signs
        thousands of records a second; parsing cost as much as signing)."""
        raw = self._keys().signing_private_key
        cached = self._signing
        if cached is None or cached[0] != raw:
            cached = (raw, Ed25519PrivateKey.from_private_bytes(raw))
            self._signing = cached
        return cached[1]

    def sign(self, message: bytes) -> bytes:
        return self._signing_key().sign(message)

    def public_signing_key(self) -> bytes:
        return self._signing_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def check(self) -> None:
        probe = secrets.token_bytes(32)
        if self.unwrap(self.wrap(probe, context=b"health"), context=b"health") != probe:
            raise KmsUnavailable("local key file failed a wrap/unwrap round trip")

    def _keys(self, *, force_reload: bool = False) -> keyfile.KeyFile:
        """The loaded key file, re-read when the file on disk changed since it was loaded."""
        try:
            current = _stamp(self.path)
        except FileNotFoundError:
            raise KmsMisconfigured(
                f"local key file {self.path} does not exist; run `rampart init` to create it"
            ) from None
        with self._lock:
            if force_reload or self._loaded is None or current != self._stamp:
                self._loaded, self._stamp = keyfile.load_key_file(self.path), current
            return self._loaded


def _aad(version: int, context: bytes) -> bytes:
    # The version is authenticated too, so a header edited to another version cannot verify.
    return AAD_PREFIX + version.to_bytes(4, "big") + context


def _stamp(path: Path) -> FileStamp:
    info = os.stat(path)
    return (info.st_ino, info.st_mtime_ns, info.st_size)
