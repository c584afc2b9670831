"""The local key file: versioned AES-256 key-encryption keys and an Ed25519 signing key in JSON,
written atomically with mode 0600 and refused when group or others can read it."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from core.clock import utcnow
from core.errors import KmsUnavailable
from core.kms.exceptions import KmsMisconfigured

FORMAT = "rampart-kms-local/1"
KEK_BYTES = 32


@dataclass(slots=True)
class KekVersion:
    key: bytes = field(repr=False)
    created_at: str


@dataclass(slots=True)
class KeyFile:
    """The parsed key file; ``repr`` never shows key material."""

    created_at: str
    keks: dict[int, KekVersion]
    min_decryption_version: int
    signing_private_key: bytes = field(repr=False)
    signing_created_at: str

    @property
    def latest_version(self) -> int:
        return max(self.keks)

    def add_kek_version(self) -> int:
        version = self.latest_version + 1
        self.keks[version] = KekVersion(secrets.token_bytes(KEK_BYTES), utcnow().isoformat())
        return version

    def to_json(self) -> bytes:
        document = {
            "format": FORMAT,
            "created_at": self.created_at,
            "kek": {
                "algorithm": "aes-256-gcm",
                "min_decryption_version": self.min_decryption_version,
                "versions": {
                    str(v): {"key": _b64(k.key), "created_at": k.created_at}
                    for v, k in sorted(self.keks.items())
                },
            },
            "signing": {
                "algorithm": "ed25519",
                "private_key": _b64(self.signing_private_key),
                "created_at": self.signing_created_at,
            },
        }
        return json.dumps(document, indent=2).encode() + b"\n"


def new_key_file() -> KeyFile:
    now = utcnow().isoformat()
    signing = Ed25519PrivateKey.generate().private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()
    )
    return KeyFile(
        created_at=now,
        keks={1: KekVersion(secrets.token_bytes(KEK_BYTES), now)},
        min_decryption_version=1,
        signing_private_key=signing,
        signing_created_at=now,
    )


def create_local_key_file(path: Path) -> bool:
    """Create the key file unless it exists (``rampart init``); True when this call created it.

    Idempotent and race-free: the new file is linked into place, which fails if another
    process got there first, and the existing file is kept.
    """
    if path.exists():
        return False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temp = _write_temp(path, new_key_file().to_json())
    try:
        os.link(temp, path)
    except FileExistsError:
        return False
    finally:
        temp.unlink()
    _fsync_dir(path.parent)
    return True


def load_key_file(path: Path) -> KeyFile:
    """Read and validate the key file; refuse one that group or others can read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise KmsMisconfigured(
            f"local key file {path} does not exist; run `rampart init` to create it"
        ) from None
    except OSError as exc:
        raise KmsUnavailable(f"local key file {path} cannot be opened: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if stat.S_IMODE(mode) & 0o077:
            raise KmsMisconfigured(
                f"local key file {path} is accessible by group or others "
                f"(mode {stat.S_IMODE(mode):04o}); run `chmod 600 {path}`"
            )
        raw = handle.read()
    try:
        return _parse(json.loads(raw))
    except (ValueError, KeyError, TypeError) as exc:
        # The message names the field problem, never a value.
        raise KmsMisconfigured(f"local key file {path} is not a valid key file ({exc})") from None


def save_key_file(path: Path, key_file: KeyFile) -> None:
    """Replace the key file atomically (temp file, fsync, rename, fsync directory)."""
    temp = _write_temp(path, key_file.to_json())
    try:
        os.replace(temp, path)
    except OSError:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Exclusive lock across processes for a read-modify-write of the key file (rotation)."""
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _parse(document: dict[str, Any]) -> KeyFile:
    if document.get("format") != FORMAT:
        raise ValueError(f"unknown format, expected {FORMAT}")
    kek = document["kek"]
    keks = {
        int(version): KekVersion(_unb64(entry["key"], KEK_BYTES), str(entry["created_at"]))
        for version, entry in kek["versions"].items()
    }
    if not keks:
        raise ValueError("no key-encryption key version")
    signing = document["signing"]
    if signing.get("algorithm") != "ed25519":
        raise ValueError("signing key must be ed25519")
    return KeyFile(
        created_at=str(document["created_at"]),
        keks=keks,
        min_decryption_version=int(kek.get("min_decryption_version", 1)),
        signing_private_key=_unb64(signing["private_key"], 32),
        signing_created_at=str(signing["created_at"]),
    )


def _write_temp(path: Path, content: bytes) -> Path:
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, length: int) -> bytes:
    data = base64.b64decode(text, validate=True)
    if len(data) != length:
        raise ValueError(f"key of {len(data)} bytes where {length} are expected")
    return data
