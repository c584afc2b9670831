"""Browser session tokens and CSRF tokens. The cookie holds a random 256-bit token; the database
holds only its HMAC; the CSRF token is an HMAC of the cookie token, so it is bound to the (pre-)
login session, changes when the session rotates, and needs no storage (synchronizer token)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from sqlalchemy.orm import Session

from iam.sessions import secret_keys

TOKEN_BYTES = 32
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def is_well_formed(token: str | None) -> bool:
    return token is not None and _TOKEN_SHAPE.fullmatch(token) is not None


def token_digest(db: Session, token: str) -> str:
    key = secret_keys.derived_key(db, secret_keys.SESSION_TOKEN)
    return hmac.new(key, token.encode("ascii"), hashlib.sha256).hexdigest()


def csrf_token(db: Session, token: str) -> str:
    key = secret_keys.derived_key(db, secret_keys.CSRF)
    digest = hmac.new(key, token.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def csrf_matches(db: Session, token: str | None, submitted: str | None) -> bool:
    if not is_well_formed(token) or not submitted:
        return False
    assert token is not None  # noqa: S101 - narrowed by is_well_formed
    return hmac.compare_digest(csrf_token(db, token).encode(), submitted.encode())
