"""In-process cache of what client authentication needs of a registered client (auth method,
secret HMAC and its pepper, grants, scopes, audiences), so the token and introspection
endpoints authenticate without a database round trip (iam.oauth2.client_auth is its user).

Freshness: an entry lives ``TTL_SECONDS``. A rotation or deletion made in this process evicts it
at once (and again after the commit). Another process or replica sees the change within
``TTL_SECONDS`` at most: an old secret may keep working that long there. An unknown (or disabled)
client id is remembered as absent for as long, apart and bounded on its own: it is then refused
without a lookup of its own, so refusing an unknown client costs what refusing a known one with a
wrong secret costs (no timing oracle on client ids). A client created meanwhile in another
process is refused here until the absence expires (at most ``TTL_SECONDS``).
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749.util import scope_to_list
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core.database import get_engine
from core.kms.service import load_data_key
from iam.oauth2.client_secrets import hash_client_secret
from iam.oauth2.models import OAuth2Client

TTL_SECONDS = 5.0
MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class CachedClient:
    client_id: str
    auth_method: str
    grant_types: frozenset[str]
    scopes: tuple[str, ...]
    audiences: tuple[str, ...]
    secret_hash: bytes | None = field(repr=False)
    pepper: bytes | None = field(repr=False)
    jwks: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def secret_matches(self, presented: str) -> bool:
        """Constant-time comparison of HMAC(pepper, presented) with the stored hash."""
        if self.secret_hash is None or self.pepper is None:
            return False
        if not presented or len(presented) > 512:
            return False
        return hmac.compare_digest(hash_client_secret(self.pepper, presented), self.secret_hash)

    def allowed_scope(self, scope: str | None) -> str | None:
        return allowed_scope(self.scopes, scope)


def allowed_scope(allowed: Collection[str], scope: str | None) -> str | None:
    """The requested scope if every part is allowed (keeping the request's order, without
    duplicates); None (invalid_scope) otherwise. No scope requested: the full allowance."""
    if not scope:
        return " ".join(sorted(set(allowed)))
    requested = scope_to_list(scope)
    if not set(requested) <= set(allowed):
        return None
    return " ".join(dict.fromkeys(requested))


_lock = threading.Lock()
# (engine, client_id) -> (expires at, client): one process may serve several databases (tests);
# a client id of one must never answer for another.
_entries: dict[tuple[Engine, str], tuple[float, CachedClient]] = {}
_absent: dict[tuple[Engine, str], float] = {}  # (engine, client_id) -> known absent until


def _key(client_id: str) -> tuple[Engine, str]:
    return (get_engine(), client_id)


def cached_client(client_id: str) -> CachedClient | None:
    """The cached client if fresh; never touches the database."""
    found = _entries.get(_key(client_id))
    if found is None or found[0] <= time.monotonic():
        return None
    return found[1]


def known_absent(client_id: str) -> bool:
    """True while a fresh lookup found no usable client of this id; never touches the database."""
    until = _absent.get(_key(client_id))
    return until is not None and until > time.monotonic()


def _remember_absent(client_id: str) -> None:
    with _lock:
        if len(_absent) >= MAX_ENTRIES:
            _absent.clear()
        _absent[_key(client_id)] = time.monotonic() + TTL_SECONDS


def load_client(db: Session, client_id: str) -> CachedClient | None:
    """Read the client (and unwrap its pepper) and cache it; None when it does not exist or is
    disabled."""
    if not client_id or len(client_id) > 100:
        _remember_absent(client_id[:100])
        return None
    row = db.execute(
        select(OAuth2Client).where(OAuth2Client.client_id == client_id)
    ).scalar_one_or_none()
    if row is None or not row.enabled:  # a disabled client answers as an unknown one
        _remember_absent(client_id)
        return None
    pepper = load_data_key(db, row.secret_pepper_id) if row.secret_pepper_id else None
    client = CachedClient(
        client_id=row.client_id,
        auth_method=row.token_endpoint_auth_method,
        grant_types=frozenset(row.grant_types),
        scopes=tuple(row.scopes),
        audiences=tuple(row.audiences),
        secret_hash=row.secret_hash,
        pepper=pepper,
        jwks=row.jwks,
    )
    with _lock:
        if len(_entries) >= MAX_ENTRIES:
            _entries.clear()
        _entries[_key(client_id)] = (time.monotonic() + TTL_SECONDS, client)
    return client


def forget_client(client_id: str) -> None:
    with _lock:
        for key in [key for key in _entries if key[1] == client_id]:
            del _entries[key]
        for key in [key for key in _absent if key[1] == client_id]:
            del _absent[key]


def forget_client_after_commit(db: Session, client_id: str) -> None:
    """Evict now and again once ``db`` commits, so a request racing the change cannot put the
    old version back for a whole TTL."""
    forget_client(client_id)
    event.listen(db, "after_commit", lambda _session: forget_client(client_id), once=True)


def clear_client_cache() -> None:
    with _lock:
        _entries.clear()
        _absent.clear()
