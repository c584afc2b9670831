"""Value encryption and fingerprints without a database: the per-key cipher and MAC caches stay
bounded, can be emptied, and never change a result."""

from __future__ import annotations

import hashlib
import hmac
import os

import pytest

from vault import crypto
from vault.crypto import (
    CACHED_KEYS,
    CiphertextTampered,
    associated_data,
    decrypt_value,
    deterministic_entropy,
    encrypt_value,
    fingerprint,
    forget_cached_keys,
)


@pytest.fixture(autouse=True)
def _empty_key_caches() -> None:
    forget_cached_keys()


def test_cipher_cache_is_bounded_and_evicted_keys_still_work() -> None:
    keys = [os.urandom(32) for _ in range(CACHED_KEYS + 8)]
    aad = associated_data("shop", "name", "tok_nam_x")
    sealed = [encrypt_value(key, f"value {i}", aad) for i, key in enumerate(keys)]
    assert crypto._aead.cache_info().currsize == CACHED_KEYS
    assert [decrypt_value(key, blob, aad) for key, blob in zip(keys, sealed, strict=True)] == [
        f"value {i}" for i in range(len(keys))
    ]
    with pytest.raises(CiphertextTampered):
        decrypt_value(keys[1], sealed[0], aad)  # a cached cipher never answers for another key


def test_forgetting_drops_every_cached_key() -> None:
    key = os.urandom(32)
    fingerprint(key, "pan", "4111111111111111", "caller:test")
    encrypt_value(key, "v", b"aad")
    forget_cached_keys()
    assert crypto._aead.cache_info().currsize == 0
    assert crypto._keyed_hmac.cache_info().currsize == 0


def test_macs_match_the_standard_library_on_every_call() -> None:
    keys = [os.urandom(32) for _ in range(3)]
    for _ in range(2):  # the second round runs on cached MAC objects
        for key in keys:
            message = b"rampart.vault.fingerprint.v2\x00pan\x00caller:test\x004111111111111111"
            expected = hmac.new(key, message, hashlib.sha256).digest()
            assert fingerprint(key, "pan", "4111111111111111", "caller:test") == expected
            message = b"\x00".join((b"token", b"pan", b"pan_last4", b"2", expected))
            assert (
                deterministic_entropy(key, "pan", "pan_last4", 2, expected)
                == hmac.new(key, message, hashlib.sha256).digest()
            )


def test_destroying_a_data_key_drops_cipher_objects(local_kms: object, engine: object) -> None:
    """Crypto-shredding: no cipher built from any plaintext key outlives a destroy here."""
    from sqlalchemy.orm import sessionmaker

    from core.database import unit_of_work
    from core.kms.service import create_data_key, destroy_data_key

    sessions = sessionmaker(bind=engine)  # type: ignore[call-overload]
    with unit_of_work(sessions) as session:
        key_id, key = create_data_key(session, "vault.subject")
    encrypt_value(key, "ada@example.com", b"aad")
    assert crypto._aead.cache_info().currsize == 1
    with unit_of_work(sessions) as session:
        destroy_data_key(session, key_id)
    assert crypto._aead.cache_info().currsize == 0
    assert crypto._keyed_hmac.cache_info().currsize == 0


def test_a_nonce_from_the_caller_is_used_once_and_must_be_12_bytes() -> None:
    key = os.urandom(32)
    aad = associated_data("shop", "pan", "tok")
    nonce = os.urandom(12)
    blob = encrypt_value(key, "4111111111111111", aad, nonce=nonce)
    assert blob[1:13] == nonce
    assert decrypt_value(key, blob, aad) == "4111111111111111"
    for wrong in (b"", os.urandom(8), os.urandom(16)):
        with pytest.raises(ValueError, match="12 bytes"):
            encrypt_value(key, "4111111111111111", aad, nonce=wrong)
    drawn = {encrypt_value(key, "4111111111111111", aad)[1:13] for _ in range(100)}
    assert len(drawn) == 100  # without one, every call draws its own
