"""Client secrets: 256 random bits with a recognizable prefix, stored as HMAC-SHA256 under a
server pepper, compared in constant time.

The pepper is a KMS data key (wrapped by the key-encryption key, so never in clear in the
database) cached unwrapped in process memory by the KMS data-key cache. A random 256-bit
secret cannot be guessed, so a slow password hash would only slow down the token endpoint;
the keyed hash makes a stolen table useless without the KMS.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.kms.service import create_data_key, load_data_key
from iam.oauth2.models import ClientSecretPepper

SECRET_PREFIX = "rps_"  # noqa: S105 - the public prefix, not a secret
SECRET_RANDOM_BYTES = 32
PEPPER_PURPOSE = "iam:oauth2-client-secret-pepper"


def generate_client_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(SECRET_RANDOM_BYTES)


def hash_client_secret(pepper: bytes, secret: str) -> bytes:
    return hmac.new(pepper, secret.encode("utf-8"), hashlib.sha256).digest()


def current_pepper(db: Session) -> tuple[UUID, bytes]:
    """The newest pepper (created on first use); returns its id and key."""
    pepper_id = db.execute(
        select(ClientSecretPepper.data_key_id)
        .order_by(ClientSecretPepper.created_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    if pepper_id is None:
        pepper_id, key = create_data_key(db, PEPPER_PURPOSE)
        db.add(ClientSecretPepper(data_key_id=pepper_id))
        db.flush()
        return pepper_id, key
    return pepper_id, load_data_key(db, pepper_id)


_DUMMY_PEPPER = secrets.token_bytes(32)
_DUMMY_HASH = secrets.token_bytes(32)


def spend_dummy_secret_check(presented: str | None) -> None:
    """The HMAC and comparison a known client's secret check costs, against nothing: an unknown
    client id then takes as long to refuse as a wrong secret (no oracle on client ids)."""
    candidate = (presented or "")[:512]
    hmac.compare_digest(hash_client_secret(_DUMMY_PEPPER, candidate), _DUMMY_HASH)
