"""Which data key encrypts what: one key per (tenant, type, key period) for ordinary values,
one per (tenant, subject) for personal data bound to a subject (crypto-shredding), one per
tenant for fingerprints, one per (tenant, period) for sensitive authentication data.

Keys come from core.kms (wrapped by the KEK, unwrapped through its bounded cache); this module
only remembers which key serves which scope. Type keys change every period so no AES-GCM key
ever sees enough random nonces to risk a repeat (NIST SP 800-38D: 2**32 per key).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.kms.provider import get_data_key_cache
from core.kms.service import create_data_keys, load_data_key
from vault.models import VaultKey

KEY_PERIOD_SECONDS = 3600
# How long this process trusts its memory of scope -> key id for scopes that never change
# owner (type, fingerprint, SAD). Subject scopes are always read from the database, since an
# erasure in another process must be seen at once.
SCOPE_CACHE_SECONDS = 300.0

PURPOSE_BY_KIND = {
    "type": "vault.type",
    "subject": "vault.subject",
    "fingerprint": "vault.fingerprint",
    "sad": "vault.sad",
}


def key_period(at: datetime) -> int:
    return int(at.timestamp()) // KEY_PERIOD_SECONDS


def type_scope(token_type: str, at: datetime) -> str:
    return f"type:{token_type}:{key_period(at)}"


def sad_scope(at: datetime) -> str:
    return f"sad:{key_period(at)}"


def subject_scope(subject: str) -> str:
    return f"subject:{subject}"


FINGERPRINT_SCOPE = "fingerprint"


class _ScopeCache:
    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], tuple[float, UUID]] = {}
        self._lock = threading.Lock()

    def get(self, tenant: str, scope: str) -> UUID | None:
        entry = self._entries.get((tenant, scope))
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, tenant: str, scope: str, key_id: UUID) -> None:
        if scope.startswith("subject:"):
            return
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()  # old periods pile up; starting over is cheap
            self._entries[(tenant, scope)] = (time.monotonic() + SCOPE_CACHE_SECONDS, key_id)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_scope_cache = _ScopeCache()


def forget_cached_scopes() -> None:
    """Tests, and settings changes: drop every remembered scope assignment."""
    _scope_cache.clear()


def scope_key_ids(
    session: Session, tenant: str, scopes: Iterable[str], *, create: bool = True
) -> dict[str, UUID]:
    """Data key id per scope; missing scopes get new keys (one KMS round trip per kind)."""
    wanted = set(scopes)
    found: dict[str, UUID] = {}
    for scope in wanted:
        cached = _scope_cache.get(tenant, scope)
        if cached is not None:
            found[scope] = cached
    uncached = wanted - found.keys()
    if not uncached:
        return found
    found.update(_read_scopes(session, tenant, uncached))
    missing = wanted - found.keys()
    if missing and create:
        found.update(_create_scopes(session, tenant, missing))
    _remember_after_commit(session, tenant, {s: found[s] for s in uncached if s in found})
    return found


_PENDING_SCOPES = "vault.scopes_to_remember"


def _remember_after_commit(session: Session, tenant: str, found: dict[str, UUID]) -> None:
    """Cache scope assignments only once the transaction that read or made them commits: a key
    created in a transaction that rolls back never existed, and remembering it would make every
    later write fail (its data key row is gone)."""
    pending: list[tuple[str, dict[str, UUID]]] | None = session.info.get(_PENDING_SCOPES)
    if pending is None:
        pending = session.info[_PENDING_SCOPES] = []
        event.listen(session, "after_commit", _remember_pending, once=True)
    pending.append((tenant, dict(found)))


def _remember_pending(session: Session) -> None:
    for tenant, found in session.info.pop(_PENDING_SCOPES, []):
        for scope, key_id in found.items():
            _scope_cache.put(tenant, scope, key_id)


def scope_keys(
    session: Session, tenant: str, scopes: Iterable[str]
) -> dict[str, tuple[UUID, bytes]]:
    """(data key id, plaintext key) per scope, creating what is missing."""
    return {
        scope: (key_id, load_data_key(session, key_id))
        for scope, key_id in scope_key_ids(session, tenant, scopes).items()
    }


def cached_scope_keys(tenant: str, scopes: Iterable[str]) -> dict[str, tuple[UUID, bytes]] | None:
    """Like :func:`scope_keys` from this process's memory only (no database, no KMS), or None
    when any scope or key is not there. Subject scopes are never there (see SCOPE_CACHE_SECONDS)."""
    cache = get_data_key_cache()
    keys: dict[str, tuple[UUID, bytes]] = {}
    for scope in scopes:
        key_id = _scope_cache.get(tenant, scope)
        key = cache.get(key_id) if key_id is not None else None
        if key_id is None or key is None:
            return None
        keys[scope] = (key_id, key)
    return keys


def _read_scopes(session: Session, tenant: str, scopes: set[str]) -> dict[str, UUID]:
    rows = session.execute(
        select(VaultKey.scope, VaultKey.data_key_id).where(
            VaultKey.tenant == tenant, VaultKey.scope.in_(sorted(scopes))
        )
    ).all()
    return {scope: key_id for scope, key_id in rows}


def _create_scopes(session: Session, tenant: str, scopes: set[str]) -> dict[str, UUID]:
    by_kind: dict[str, list[str]] = {}
    for scope in sorted(scopes):
        by_kind.setdefault(scope.split(":", 1)[0], []).append(scope)
    created: dict[str, UUID] = {}
    for kind, kind_scopes in by_kind.items():
        # Wrapped before any row is written: an unreachable KMS leaves nothing behind.
        keys = create_data_keys(session, PURPOSE_BY_KIND[kind], len(kind_scopes))
        for scope, (key_id, _plaintext) in zip(kind_scopes, keys, strict=True):
            created[scope] = _assign(session, tenant, scope, key_id)
    return created


def _assign(session: Session, tenant: str, scope: str, key_id: UUID) -> UUID:
    """Record ``key_id`` for the scope unless another writer got there first; returns the winner."""
    try:
        with session.begin_nested():
            session.add(VaultKey(tenant=tenant, scope=scope, data_key_id=key_id))
            session.flush()
    except IntegrityError:
        winner = _read_scopes(session, tenant, {scope}).get(scope)
        if winner is None:
            raise
        return winner
    return key_id


def drop_scope(session: Session, tenant: str, scope: str) -> UUID | None:
    """Forget a scope's key assignment (subject erasure); returns the key id it had."""
    row = session.execute(
        select(VaultKey).where(VaultKey.tenant == tenant, VaultKey.scope == scope)
    ).scalar_one_or_none()
    if row is None:
        return None
    key_id = row.data_key_id
    session.delete(row)
    session.flush()
    return key_id
