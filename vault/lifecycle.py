"""Life after tokenize: crypto-shredding a subject, purging expired tokens and spent SAD keys,
and the counts `rampart vault stats` shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.audit.service import record_event
from core.kms.service import destroy_data_key
from vault import repository
from vault.keys import drop_scope, key_period, subject_scope
from vault.models import VaultKey
from vault.preparation import SAD_MAX_TTL_SECONDS

PURGE_BATCH = 1000


@dataclass(frozen=True, slots=True)
class ErasureReport:
    keys_destroyed: int
    tokens_unreadable: int


@dataclass(frozen=True, slots=True)
class PurgeReport:
    tokens_deleted: int
    sad_keys_destroyed: int


@dataclass(frozen=True, slots=True)
class VaultStats:
    tokens_by_type: dict[str, int]
    expired_awaiting_purge: int
    keys_by_kind: dict[str, int]


def erase_subject(
    session: Session, *, tenant: str, subject: str, actor: str | None = None
) -> ErasureReport:
    """Destroy every key holding the subject's values: each of them, and every copy of their
    ciphertexts, becomes unreadable. Tokens stay (answering 410) without their fingerprints."""
    _zero_freed_pages(session)
    key_ids: set[UUID] = repository.subject_key_ids(session, tenant, subject)
    assigned = drop_scope(session, tenant, subject_scope(subject))
    if assigned is not None:
        key_ids.add(assigned)
    for key_id in sorted(key_ids):
        destroy_data_key(session, key_id)
    unreadable = repository.forget_subject_fingerprints(session, tenant, subject)
    record_event(
        session,
        event_type="vault.subject.erased",
        resource=f"vault:subject:{tenant}",
        details={"keys_destroyed": len(key_ids), "items": unreadable},
        actor=actor,
    )
    return ErasureReport(len(key_ids), unreadable)


def _zero_freed_pages(session: Session) -> None:
    # SQLite leaves deleted bytes in free space until reused; with secure_delete the wrapped
    # key's old bytes are overwritten with zeros, so the database file no longer holds them.
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA secure_delete=ON"))


def purge_expired(session: Session, now: datetime, *, batch_size: int = PURGE_BATCH) -> PurgeReport:
    """Delete expired tokens (SAD included) up to ``batch_size``, and destroy SAD keys whose
    tokens have all expired, so even leftover bytes of their ciphertexts stay unreadable."""
    _zero_freed_pages(session)
    deleted = repository.delete_expired(session, now, batch_size)
    destroyed = _destroy_spent_sad_keys(session, now)
    if deleted or destroyed:
        record_event(
            session,
            event_type="vault.purged",
            resource="vault",
            details={"deleted": deleted, "sad_keys_destroyed": destroyed},
        )
    return PurgeReport(deleted, destroyed)


def _destroy_spent_sad_keys(session: Session, now: datetime) -> int:
    # A SAD key of period p encrypts tokens made before the end of p, each living at most
    # SAD_MAX_TTL_SECONDS; after that nothing it encrypted may still be read.
    last_spent = key_period(now - timedelta(seconds=SAD_MAX_TTL_SECONDS)) - 1
    rows = session.execute(select(VaultKey).where(VaultKey.scope.like("sad:%"))).scalars().all()
    spent = [row for row in rows if int(row.scope.split(":", 1)[1]) <= last_spent]
    for row in spent:
        destroy_data_key(session, row.data_key_id)
        session.delete(row)
    session.flush()
    return len(spent)


def vault_stats(session: Session, now: datetime, tenant: str | None = None) -> VaultStats:
    query = select(VaultKey.scope)
    if tenant is not None:
        query = query.where(VaultKey.tenant == tenant)
    kinds: dict[str, int] = {}
    for scope in session.execute(query).scalars():
        kind = scope.split(":", 1)[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    return VaultStats(
        tokens_by_type=repository.count_by_type(session, tenant),
        expired_awaiting_purge=repository.count_expired(session, now, tenant),
        keys_by_kind=kinds,
    )
