"""The IdP's own symmetric keys (HMAC of session tokens, CSRF, recovery codes; TOTP encryption),
derived with HKDF from one KMS data key, so they are wrapped by the KEK like every other key and
the KMS being down fails closed."""

from __future__ import annotations

import threading
from uuid import UUID

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.kms.service import create_data_key, load_data_key
from iam.sessions.models import IamSecretKey

ROOT_PURPOSE = "iam.root"
DATA_KEY_PURPOSE = "iam.secret-keys"

# Labels of the derived keys; a new use gets a new label, never an old key.
SESSION_TOKEN = "session-token-hmac"  # noqa: S105 - a label, not a secret
CSRF = "csrf-hmac"
RECOVERY_CODE = "recovery-code-hmac"
TOTP_SECRET = "totp-secret-aead"  # noqa: S105 - a label, not a secret
TOTP_ENROLMENT = "totp-enrolment-aead"

_lock = threading.Lock()
# Data-key id per database (only ids seen committed are remembered) and derived keys per id.
_known_root: dict[str, UUID] = {}
_derived: dict[tuple[UUID, str], bytes] = {}


def _database_key(db: Session) -> str:
    return db.get_bind().engine.url.render_as_string(hide_password=True)


def ensure_root_key(db: Session) -> UUID:
    """The id of the IdP's root data key, created (wrapped by the KMS) when missing."""
    database = _database_key(db)
    known = _known_root.get(database)
    if known is not None:
        return known
    row = db.get(IamSecretKey, ROOT_PURPOSE)
    if row is not None:
        with _lock:
            _known_root[database] = row.data_key_id
        return row.data_key_id
    try:
        with db.begin_nested():
            key_id, _ = create_data_key(db, DATA_KEY_PURPOSE)
            db.add(IamSecretKey(purpose=ROOT_PURPOSE, data_key_id=key_id))
            db.flush()
        # Not remembered yet: this transaction may still roll back.
        return key_id
    except IntegrityError:
        # Another process created it first; use theirs.
        return db.scalars(
            select(IamSecretKey.data_key_id).where(IamSecretKey.purpose == ROOT_PURPOSE)
        ).one()


def derived_key(db: Session, label: str) -> bytes:
    """A 32-byte key for ``label``, derived from the root data key."""
    key_id = ensure_root_key(db)
    cached = _derived.get((key_id, label))
    if cached is not None:
        return cached
    root = load_data_key(db, key_id)
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"rampart:iam:{label}".encode()
    ).derive(root)
    with _lock:
        _derived[(key_id, label)] = key
    return key


def forget_cached_keys() -> None:
    """Drop cached ids and derived keys (tests, key destruction)."""
    with _lock:
        _known_root.clear()
        _derived.clear()
