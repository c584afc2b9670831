"""The signed zip: members are streamed in (never held whole), hashed as they are written, and
closed by ``SHA256SUMS`` (every other member in `sha256sum` format), ``SHA256SUMS.sig`` (Ed25519
over the exact bytes of ``SHA256SUMS``) and ``public-key.pem``.

The signature is over ``SHA256SUMS`` as it stands, with no prefix, so `openssl pkeyutl -verify
-rawin` checks it. The same KMS key signs audit checkpoints and evidence records, but their
messages start with ``rampart-audit-checkpoint/v1|`` and ``rampart-evidence/v1``; a line of
``SHA256SUMS`` starts with 64 hex digits, so no signature of one kind is ever valid as another.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import IO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from core.audit.signing import Signer

SUMS = "SHA256SUMS"
SIGNATURE = "SHA256SUMS.sig"
PUBLIC_KEY = "public-key.pem"
ROOT_FILES = frozenset({SUMS, SIGNATURE, PUBLIC_KEY})
# Names `sha256sum -c` reads back unchanged: no spaces, backslashes, newlines or `..`.
_MEMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


def public_key_pem(raw: bytes) -> bytes:
    return Ed25519PublicKey.from_public_bytes(raw).public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
    )


class SignedZipWriter:
    """Write members with :meth:`add` / :meth:`add_chunks`, then :meth:`seal` with a signer."""

    def __init__(self, path: Path) -> None:
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6)
        self._digests: dict[str, str] = {}
        self.bytes_written = 0

    def __enter__(self) -> SignedZipWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._zip.close()

    def add(self, name: str, content: bytes) -> None:
        self.add_chunks(name, (content,))

    def add_chunks(self, name: str, chunks: Iterable[bytes]) -> None:
        """Stream ``chunks`` into member ``name``; only the running digest stays in memory."""
        if not _MEMBER.match(name) or name in ROOT_FILES or name in self._digests:
            raise ValueError(f"bad or repeated member name: {name!r}")
        digest = hashlib.sha256()
        member: IO[bytes]
        with self._zip.open(self._info(name), "w", force_zip64=True) as member:
            for chunk in chunks:
                digest.update(chunk)
                member.write(chunk)
                self.bytes_written += len(chunk)
        self._digests[name] = digest.hexdigest()

    def seal(self, signer: Signer) -> str:
        """Write the three root files; return the SHA-256 of ``SHA256SUMS``."""
        sums = "".join(f"{self._digests[name]}  {name}\n" for name in sorted(self._digests))
        sums_bytes = sums.encode("ascii")
        with self._zip.open(self._info(SUMS), "w") as member:
            member.write(sums_bytes)
        with self._zip.open(self._info(SIGNATURE), "w") as member:
            member.write(signer.sign(sums_bytes))
        with self._zip.open(self._info(PUBLIC_KEY), "w") as member:
            member.write(public_key_pem(signer.public_signing_key()))
        return hashlib.sha256(sums_bytes).hexdigest()

    @staticmethod
    def _info(name: str) -> zipfile.ZipInfo:
        # A fixed timestamp and mode: the same content gives the same member bytes.
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        return info
