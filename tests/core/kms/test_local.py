"""The local provider: AES-256-GCM wrapping bound to context, a 0600 key file written
atomically, rotation with old versions still readable, Ed25519 signing."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from core.kms.base import WrappedKey
from core.kms.exceptions import KeyUnwrapFailed, KmsMisconfigured
from core.kms.keyfile import create_local_key_file, load_key_file
from core.kms.local import LocalKeyProvider

DATA_KEY = bytes(range(32))


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "keys.json"
    assert create_local_key_file(path) is True
    return path


@pytest.fixture
def provider(key_path: Path) -> LocalKeyProvider:
    return LocalKeyProvider(key_path)


def test_wrap_unwrap_round_trip_carries_kek_version(provider: LocalKeyProvider) -> None:
    wrapped = provider.wrap(DATA_KEY, context=b"data-key:1")
    assert wrapped.kek_version == 1
    assert DATA_KEY not in wrapped.ciphertext
    assert provider.unwrap(wrapped, context=b"data-key:1") == DATA_KEY
    # Random nonce: the same key wraps differently every time.
    assert provider.wrap(DATA_KEY, context=b"data-key:1").ciphertext != wrapped.ciphertext


def test_wrong_context_or_tampering_fails(provider: LocalKeyProvider) -> None:
    wrapped = provider.wrap(DATA_KEY, context=b"data-key:1")
    with pytest.raises(KeyUnwrapFailed):
        provider.unwrap(wrapped, context=b"data-key:2")
    flipped = bytearray(wrapped.ciphertext)
    flipped[-1] ^= 1
    with pytest.raises(KeyUnwrapFailed):
        provider.unwrap(WrappedKey(bytes(flipped), 1), context=b"data-key:1")


def test_key_file_is_0600_in_a_0700_directory(key_path: Path) -> None:
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_path.parent.stat().st_mode) == 0o700
    document = json.loads(key_path.read_text())
    assert document["format"] == "rampart-kms-local/1"
    assert set(document["kek"]["versions"]) == {"1"}
    assert document["signing"]["algorithm"] == "ed25519"
    # No temporary file is left next to it.
    assert sorted(p.name for p in key_path.parent.iterdir()) == ["keys.json"]


def test_create_is_idempotent_and_keeps_the_existing_file(key_path: Path) -> None:
    before = key_path.read_bytes()
    assert create_local_key_file(key_path) is False
    assert key_path.read_bytes() == before


def test_refuses_a_key_file_readable_by_others(key_path: Path) -> None:
    os.chmod(key_path, 0o644)
    with pytest.raises(KmsMisconfigured) as caught:
        LocalKeyProvider(key_path).wrap(DATA_KEY)
    assert "0644" in caught.value.detail
    assert "chmod 600" in caught.value.detail


def test_missing_key_file_says_to_run_init(tmp_path: Path) -> None:
    with pytest.raises(KmsMisconfigured, match="rampart init"):
        LocalKeyProvider(tmp_path / "absent.json").info()


def test_rotate_keeps_old_versions_and_rewrap_moves_to_the_new_one(
    provider: LocalKeyProvider, key_path: Path
) -> None:
    old = provider.wrap(DATA_KEY, context=b"ctx")
    info = provider.rotate()
    assert (info.latest_version, info.versions) == (2, (1, 2))
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert provider.unwrap(old, context=b"ctx") == DATA_KEY
    assert provider.wrap(DATA_KEY, context=b"ctx").kek_version == 2
    moved = provider.rewrap(old, context=b"ctx")
    assert moved.kek_version == 2
    assert moved.ciphertext[1:5] == (2).to_bytes(4, "big")
    assert provider.unwrap(moved, context=b"ctx") == DATA_KEY
    with pytest.raises(KeyUnwrapFailed):
        provider.rewrap(old, context=b"other")


def test_header_version_is_authenticated(provider: LocalKeyProvider) -> None:
    provider.rotate()
    wrapped = provider.wrap(DATA_KEY, context=b"ctx")
    relabelled = wrapped.ciphertext[:1] + (1).to_bytes(4, "big") + wrapped.ciphertext[5:]
    with pytest.raises(KeyUnwrapFailed):
        provider.unwrap(WrappedKey(relabelled, 1), context=b"ctx")


def test_a_running_provider_sees_a_rotation_made_by_another_process(key_path: Path) -> None:
    server, cli = LocalKeyProvider(key_path), LocalKeyProvider(key_path)
    assert server.info().latest_version == 1
    cli.rotate()
    from_cli = cli.wrap(DATA_KEY, context=b"ctx")
    assert server.unwrap(from_cli, context=b"ctx") == DATA_KEY
    assert server.wrap(DATA_KEY).kek_version == 2


def test_sign_verifies_with_the_public_key(provider: LocalKeyProvider) -> None:
    signature = provider.sign(b"checkpoint 42")
    public = Ed25519PublicKey.from_public_bytes(provider.public_signing_key())
    public.verify(signature, b"checkpoint 42")
    with pytest.raises(InvalidSignature):
        public.verify(signature, b"checkpoint 43")
    provider.rotate()
    assert provider.public_signing_key() == public.public_bytes_raw()


def test_check_and_repr_do_not_leak_keys(provider: LocalKeyProvider, key_path: Path) -> None:
    provider.check()
    wrapped = provider.wrap(DATA_KEY)
    assert "ciphertext" not in repr(wrapped)
    loaded = load_key_file(key_path)
    secret_b64 = json.loads(key_path.read_text())["kek"]["versions"]["1"]["key"]
    assert secret_b64 not in repr(loaded)
    assert repr(loaded.keks[1].key) not in repr(loaded)
