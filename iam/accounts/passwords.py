"""argon2id password hashing at the configured (OWASP) cost, with rehash-on-login and a dummy
verification that makes an unknown account cost the same time as a known one."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from core.settings import get_settings


@functools.cache
def _hasher(memory_kib: int, iterations: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(
        time_cost=iterations,
        memory_cost=memory_kib,
        parallelism=parallelism,
        hash_len=32,
        salt_len=16,
        type=Type.ID,
    )


def password_hasher() -> PasswordHasher:
    """The hasher at the cost the settings name (OWASP: m=19456 KiB, t=2, p=1)."""
    settings = get_settings()
    return _hasher(
        settings.password_hash_memory_kib,
        settings.password_hash_iterations,
        settings.password_hash_parallelism,
    )


def hash_password(password: str) -> str:
    return password_hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; a malformed stored hash counts as a mismatch."""
    try:
        return password_hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made at other parameters than the configured ones."""
    try:
        return password_hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@functools.cache
def _dummy_hash(memory_kib: int, iterations: int, parallelism: int) -> str:
    return _hasher(memory_kib, iterations, parallelism).hash("rampart-dummy-password-0")


def spend_dummy_verification(password: str) -> None:
    """One argon2 verification against a hash nobody owns: an unknown or locked account then
    answers in the same time as a wrong password, so timing reveals no account."""
    settings = get_settings()
    dummy = _dummy_hash(
        settings.password_hash_memory_kib,
        settings.password_hash_iterations,
        settings.password_hash_parallelism,
    )
    verify_password(dummy, password)
