"""Signing keys: create (sealed under a KMS data key before anything is stored), load the active
one through a small in-process cache, publish the JWKS, rotate and retire; audited."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.service import record_event
from core.clock import utcnow
from core.errors import RampartError
from core.kms.service import create_data_key, load_data_key
from core.settings import get_settings
from iam.keys import jws
from iam.keys.models import STATUS_ACTIVE, STATUS_RETIRED, STATUS_RETIRING, SigningKey

DATA_KEY_PURPOSE = "iam:signing-key"
# Keys and JWKS are re-read at least this often, so a rotation done by another process (or
# replica) is picked up without a restart; the previous key stays published meanwhile.
CACHE_SECONDS = 30.0
CLOCK_LEEWAY_SECONDS = 60


class SigningKeyUnavailable(RampartError):
    status, slug, title = 503, "signing-key-unavailable", "Signing key unavailable"


@dataclass(frozen=True, slots=True)
class LoadedSigningKey:
    kid: str
    alg: str
    private_key: jws.PrivateKey

    def __repr__(self) -> str:
        return f"LoadedSigningKey(kid={self.kid!r}, alg={self.alg})"


@dataclass(frozen=True, slots=True)
class SigningKeyInfo:
    kid: str
    alg: str
    status: str
    created_at: str
    not_after: str | None


@dataclass(frozen=True, slots=True)
class RotationResult:
    new_kid: str
    alg: str
    retiring_kids: tuple[str, ...]
    retired_kids: tuple[str, ...]


class _KeyCache:
    """The unwrapped active key, the JWKS and the verification keys of this process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active: tuple[float, LoadedSigningKey] | None = None
        self.published: (
            tuple[float, dict[str, Any], dict[str, tuple[str, jws.PublicKey]]] | None
        ) = None

    def clear(self) -> None:
        with self.lock:
            self.active = None
            self.published = None


_cache = _KeyCache()


def clear_signing_key_cache() -> None:
    """Forget cached keys (after a rotation, and in tests)."""
    _cache.clear()


def _aad(kid: str) -> bytes:
    return f"signing-key:{kid}".encode()


def create_signing_key(db: Session, alg: str | None = None) -> SigningKey:
    """A new active key of ``alg`` (default: setting ``signing_alg``). Does not demote others."""
    alg = alg or get_settings().signing_alg
    if alg not in jws.SUPPORTED_ALGS:
        raise ValueError(f"unsupported signing algorithm {alg!r}")
    private_key = jws.generate_private_key(alg)
    kid = secrets.token_urlsafe(12)
    data_key_id, data_key = create_data_key(db, DATA_KEY_PURPOSE)
    nonce = secrets.token_bytes(12)
    sealed = nonce + AESGCM(data_key).encrypt(nonce, jws.private_key_to_pem(private_key), _aad(kid))
    row = SigningKey(
        kid=kid,
        alg=alg,
        public_jwk=jws.public_jwk(private_key.public_key(), kid=kid, alg=alg),
        sealed_private_key=sealed,
        data_key_id=data_key_id,
        status=STATUS_ACTIVE,
        created_at=utcnow(),
    )
    db.add(row)
    db.flush()
    record_event(
        db,
        event_type="iam.signing_key.created",
        resource=f"signing_key:{kid}",
        details={"kid": kid, "alg": alg},
    )
    return row


def ensure_signing_key(db: Session) -> SigningKey:
    """The newest active key, created when there is none (``rampart init``, first token)."""
    row = _newest_active(db)
    return row if row is not None else create_signing_key(db)


def _newest_active(db: Session) -> SigningKey | None:
    query = (
        select(SigningKey)
        .where(SigningKey.status == STATUS_ACTIVE)
        .order_by(SigningKey.created_at.desc(), SigningKey.kid)
        .limit(1)
    )
    return db.execute(query).scalar_one_or_none()


def _unseal(db: Session, row: SigningKey) -> LoadedSigningKey:
    data_key = load_data_key(db, row.data_key_id)
    nonce, ciphertext = row.sealed_private_key[:12], row.sealed_private_key[12:]
    try:
        pem = AESGCM(data_key).decrypt(nonce, ciphertext, _aad(row.kid))
    except InvalidTag as exc:
        raise SigningKeyUnavailable(f"signing key {row.kid} could not be unsealed") from exc
    return LoadedSigningKey(kid=row.kid, alg=row.alg, private_key=jws.private_key_from_pem(pem))


def active_signing_key(db: Session) -> LoadedSigningKey:
    """The key new tokens are signed with, unsealed at most every ``CACHE_SECONDS`` per process."""
    now = time.monotonic()
    cached = _cache.active
    if cached is not None and cached[0] > now:
        return cached[1]
    row = _newest_active(db)
    if row is None:
        row = create_signing_key(db)
    loaded = cached[1] if cached is not None and cached[1].kid == row.kid else _unseal(db, row)
    with _cache.lock:
        _cache.active = (now + CACHE_SECONDS, loaded)
    return loaded


def cached_active_signing_key() -> LoadedSigningKey | None:
    """The active key if this process holds a fresh copy; never touches the database (the
    caller falls back to :func:`active_signing_key` in the threadpool when None)."""
    cached = _cache.active
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    return None


def cached_verification_key(kid: str) -> tuple[str, jws.PublicKey] | None:
    """``(alg, public key)`` from a fresh cached JWKS; None when stale or unknown (the caller
    then asks :func:`verification_key`, which re-reads the table)."""
    cached = _cache.published
    if cached is None or cached[0] <= time.monotonic():
        return None
    return cached[2].get(kid)


def _published_rows(db: Session) -> list[SigningKey]:
    now = utcnow()
    rows = db.execute(
        select(SigningKey)
        .where(SigningKey.status.in_((STATUS_ACTIVE, STATUS_RETIRING)))
        .order_by(SigningKey.created_at.desc(), SigningKey.kid)
    ).scalars()
    return [row for row in rows if row.not_after is None or row.not_after > now]


def _published(db: Session) -> tuple[dict[str, Any], dict[str, tuple[str, jws.PublicKey]]]:
    now = time.monotonic()
    cached = _cache.published
    if cached is not None and cached[0] > now:
        return cached[1], cached[2]
    rows = _published_rows(db)
    document = {"keys": [dict(row.public_jwk) for row in rows]}
    keys = {row.kid: jws.public_key_from_jwk(row.public_jwk) for row in rows}
    with _cache.lock:
        _cache.published = (now + CACHE_SECONDS, document, keys)
    return document, keys


def published_jwks(db: Session) -> dict[str, Any]:
    """The JWKS document: active and retiring keys whose tokens may still be live."""
    return _published(db)[0]


def verification_key(db: Session, kid: str) -> tuple[str, jws.PublicKey] | None:
    """``(alg, public key)`` of a published key; an unknown kid re-reads the table once."""
    keys = _published(db)[1]
    found = keys.get(kid)
    if found is None:
        with _cache.lock:
            _cache.published = None
        found = _published(db)[1].get(kid)
    return found


def rotate_signing_key(db: Session, alg: str | None = None) -> RotationResult:
    """Make a new active key; the previous ones keep verifying (JWKS) until their tokens expire,
    then leave the JWKS. Retiring keys whose time has passed are marked retired."""
    settings = get_settings()
    now = utcnow()
    lifetime = max(settings.access_token_ttl, settings.id_token_ttl) + CLOCK_LEEWAY_SECONDS
    retired: list[str] = []
    for row in db.execute(select(SigningKey).where(SigningKey.status == STATUS_RETIRING)).scalars():
        if row.not_after is not None and row.not_after <= now:
            row.status = STATUS_RETIRED
            retired.append(row.kid)
    retiring: list[str] = []
    for row in db.execute(select(SigningKey).where(SigningKey.status == STATUS_ACTIVE)).scalars():
        row.status = STATUS_RETIRING
        row.not_after = now + timedelta(seconds=lifetime)
        retiring.append(row.kid)
    db.flush()
    new = create_signing_key(db, alg)
    record_event(
        db,
        event_type="iam.signing_key.rotated",
        resource=f"signing_key:{new.kid}",
        details={"kid": new.kid, "alg": new.alg, "retiring": retiring, "retired": retired},
    )
    clear_signing_key_cache()
    return RotationResult(new.kid, new.alg, tuple(retiring), tuple(retired))


def list_signing_keys(db: Session) -> list[SigningKeyInfo]:
    rows = db.execute(select(SigningKey).order_by(SigningKey.created_at.desc())).scalars()
    return [
        SigningKeyInfo(
            kid=row.kid,
            alg=row.alg,
            status=row.status,
            created_at=row.created_at.isoformat(),
            not_after=row.not_after.isoformat() if row.not_after else None,
        )
        for row in rows
    ]
