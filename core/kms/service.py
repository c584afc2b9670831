"""Data-encryption keys: create (wrapped before anything is written), load through a bounded
cache, destroy (crypto-shredding), rotate the key-encryption key and rewrap; audited."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy.orm import Session

from core.audit.service import record_event
from core.clock import utcnow
from core.errors import NotFound, RampartError, ValidationFailed
from core.ids import uuid7
from core.kms import repository
from core.kms.base import KekInfo, WrappedKey
from core.kms.exceptions import DataKeyDestroyed, KmsMisconfigured
from core.kms.models import DataKey
from core.kms.provider import get_data_key_cache, get_key_provider
from core.settings import get_settings

DATA_KEY_BYTES = 32  # AES-256
MAX_PURPOSE_LENGTH = 100

ProgressCallback = Callable[[int, int], None]
"""Called with (keys rewrapped so far, keys to rewrap when the walk started)."""


@dataclass(frozen=True, slots=True)
class RewrapBatch:
    rewrapped: int
    last_id: UUID | None  # None: nothing was left to rewrap


@dataclass(frozen=True, slots=True)
class KmsHealth:
    ok: bool
    provider: str
    latency_ms: float
    detail: str | None = None


def data_key_context(key_id: UUID, purpose: str) -> bytes:
    """What a wrapped key is bound to: copied onto another row or purpose, it will not unwrap."""
    return f"data-key:{key_id}:{purpose}".encode()


def create_data_keys(session: Session, purpose: str, count: int) -> list[tuple[UUID, bytes]]:
    """Create ``count`` AES-256 data keys for ``purpose``; returns ``(id, plaintext key)`` pairs.

    Keys are wrapped before any row is added, so an unreachable KMS writes nothing.
    """
    _check_purpose(purpose)
    if count < 1:
        raise ValidationFailed("count must be at least 1")
    provider = get_key_provider()
    keys = [(uuid7(), secrets.token_bytes(DATA_KEY_BYTES)) for _ in range(count)]
    wrapped = provider.wrap_many([(key, data_key_context(kid, purpose)) for kid, key in keys])
    session.add_all(
        DataKey(
            id=kid,
            purpose=purpose,
            wrapped=w.ciphertext,
            kek_version=w.kek_version,
            provider=provider.name,
        )
        for (kid, _), w in zip(keys, wrapped, strict=True)
    )
    session.flush()
    record_event(
        session,
        event_type="kms.data_keys.created",
        resource=f"data_key:{keys[0][0]}" if count == 1 else f"data_keys:{purpose}",
        details={
            "purpose": purpose,
            "count": count,
            "provider": provider.name,
            "kek_version": wrapped[0].kek_version,
        },
    )
    return keys


def create_data_key(session: Session, purpose: str) -> tuple[UUID, bytes]:
    """Create one AES-256 data key; returns its id and the plaintext key for immediate use."""
    return create_data_keys(session, purpose, 1)[0]


def load_data_key(session: Session, key_id: UUID) -> bytes:
    """The plaintext data key, from the bounded cache or unwrapped by the KMS.

    Raises NotFound for an unknown id and DataKeyDestroyed once the key was shredded.
    """
    cache = get_data_key_cache()
    cached = cache.get(key_id)
    if cached is not None:
        return cached
    row = repository.get_data_key(session, key_id)
    if row is None:
        raise NotFound(f"data key {key_id} not found")
    if row.destroyed_at is not None or row.wrapped is None:
        raise DataKeyDestroyed(f"data key {key_id} was destroyed")
    provider = get_key_provider()
    if row.provider != provider.name:
        raise KmsMisconfigured(
            f"data key {key_id} was wrapped by the {row.provider!r} KMS but RAMPART_KMS is "
            f"{provider.name!r}"
        )
    wrapped = WrappedKey(ciphertext=row.wrapped, kek_version=row.kek_version)
    key = provider.unwrap(wrapped, context=data_key_context(row.id, row.purpose))
    cache.put(key_id, key)
    return key


# Called after a key is destroyed: users that keep objects built from plaintext keys (cipher
# contexts) drop them, so no copy of a shredded key outlives it in this process.
_on_destroy: list[Callable[[], None]] = []


def on_data_key_destroyed(forget: Callable[[], None]) -> None:
    if forget not in _on_destroy:
        _on_destroy.append(forget)


def destroy_data_key(session: Session, key_id: UUID) -> None:
    """Crypto-shred: wipe the wrapped key, mark it destroyed, evict it from this process's cache.

    Other processes drop their cached copy within ``key_cache_ttl`` seconds. Idempotent.
    """
    row = repository.get_data_key(session, key_id)
    if row is None:
        raise NotFound(f"data key {key_id} not found")
    get_data_key_cache().evict(key_id)
    for forget in _on_destroy:
        forget()
    if row.destroyed_at is not None:
        return
    row.wrapped = None
    row.destroyed_at = utcnow()
    session.flush()
    record_event(
        session,
        event_type="kms.data_key.destroyed",
        resource=f"data_key:{key_id}",
        details={"purpose": row.purpose, "kek_version": row.kek_version},
    )


def rotate_key_encryption_key(session: Session) -> KekInfo:
    """Add a new KEK version; new keys wrap under it, old versions still unwrap until rewrap."""
    provider = get_key_provider()
    before = provider.info()
    after = provider.rotate()
    record_event(
        session,
        event_type="kms.kek.rotated",
        resource=f"kek:{after.provider}:{after.name}",
        details={
            "provider": after.provider,
            "from_version": before.latest_version,
            "to_version": after.latest_version,
        },
    )
    return after


def count_data_keys_to_rewrap(session: Session, below_version: int | None = None) -> int:
    if below_version is None:
        below_version = get_key_provider().info().latest_version
    return repository.count_to_rewrap(session, below_version=below_version)


def rewrap_data_key_batch(
    session: Session, *, below_version: int, after: UUID | None = None, batch_size: int = 500
) -> RewrapBatch:
    """Rewrap the next batch of live keys older than ``below_version`` (one KMS round trip).

    Each row is updated only if still at the version read, so a concurrent destroy or rewrap
    wins; readers keep unwrapping the old version meanwhile. Callers that want short
    transactions run each batch in its own unit of work.
    """
    rows = repository.keys_to_rewrap(
        session, below_version=below_version, after=after, limit=batch_size
    )
    if not rows:
        return RewrapBatch(rewrapped=0, last_id=None)
    items = [
        (WrappedKey(wrapped, version), data_key_context(kid, purpose))
        for kid, purpose, wrapped, version in rows
        if wrapped is not None
    ]
    rewrapped = get_key_provider().rewrap_many(items)
    now = utcnow()
    stored = sum(
        repository.replace_wrapped(
            session,
            row.id,
            expected_version=row.kek_version,
            wrapped=new.ciphertext,
            kek_version=new.kek_version,
            rotated_at=now,
        )
        for row, new in zip(rows, rewrapped, strict=True)
    )
    session.flush()
    return RewrapBatch(rewrapped=stored, last_id=rows[-1].id)


def record_rewrap(session: Session, *, rewrapped: int, to_version: int) -> None:
    provider = get_key_provider()
    record_event(
        session,
        event_type="kms.data_keys.rewrapped",
        resource=f"kek:{provider.name}:{provider.info().name}",
        details={"provider": provider.name, "count": rewrapped, "to_version": to_version},
    )


def rewrap_data_keys(
    session: Session, batch_size: int = 500, on_progress: ProgressCallback | None = None
) -> int:
    """Rewrap every live key under an older KEK version, batch by batch; returns how many."""
    latest = get_key_provider().info().latest_version
    total = repository.count_to_rewrap(session, below_version=latest)
    done, after = 0, None
    while True:
        batch = rewrap_data_key_batch(
            session, below_version=latest, after=after, batch_size=batch_size
        )
        if batch.last_id is None:
            break
        done, after = done + batch.rewrapped, batch.last_id
        if on_progress is not None:
            on_progress(done, total)
    record_rewrap(session, rewrapped=done, to_version=latest)
    return done


def data_key_counts(session: Session) -> tuple[dict[int, int], int]:
    """Live data keys per KEK version, and how many were destroyed."""
    return repository.count_live_by_kek_version(session), repository.count_destroyed(session)


def signing_key_fingerprint(public_key: bytes | None = None) -> str:
    """SHA-256 (hex) of the raw Ed25519 public key, as the audit checkpoints record it."""
    raw = public_key if public_key is not None else get_key_provider().public_signing_key()
    return hashlib.sha256(raw).hexdigest()


def ensure_kms_keys() -> list[str]:
    """Create the KEK and signing key when missing (``rampart init``); keep existing ones.

    Returns what was created, for the init report."""
    return get_key_provider().ensure_keys()


def check_kms() -> None:
    """Raise KmsUnavailable unless the configured KMS wraps and unwraps right now."""
    get_key_provider().check()


def kms_health() -> KmsHealth:
    """For ``/readyz``: never raises; ``ok`` False means answer 503."""
    started = time.perf_counter()
    provider_name = get_settings().kms
    try:
        get_key_provider().check()
    except RampartError as exc:
        return KmsHealth(False, provider_name, _elapsed_ms(started), exc.detail)
    except Exception as exc:
        # Unknown failures are "not ready" too; only their type is shown, in case the text
        # carries something it should not.
        detail = f"unexpected {type(exc).__name__}"
        return KmsHealth(False, provider_name, _elapsed_ms(started), detail)
    return KmsHealth(True, provider_name, _elapsed_ms(started))


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _check_purpose(purpose: str) -> None:
    if not purpose or len(purpose) > MAX_PURPOSE_LENGTH:
        raise ValidationFailed(f"purpose must be 1 to {MAX_PURPOSE_LENGTH} characters")
