"""Queries of the token store. Bulk statements (one INSERT for a whole batch) keep batches fast."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from vault.models import VaultToken

_LOOKUP_COLUMNS = (
    VaultToken.id,
    VaultToken.token,
    VaultToken.token_type,
    VaultToken.token_format,
    VaultToken.deterministic,
    VaultToken.single_use,
    VaultToken.data_key_id,
    VaultToken.ciphertext,
    VaultToken.fingerprint,
    VaultToken.fingerprint_scope,
    VaultToken.subject,
    VaultToken.created_at,
    VaultToken.expires_at,
)

TokenRow = Row[Any]


def insert_tokens(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(VaultToken), list(rows))


def existing_tokens(session: Session, tenant: str, tokens: Sequence[str]) -> set[str]:
    if not tokens:
        return set()
    found = session.execute(
        select(VaultToken.token).where(VaultToken.tenant == tenant, VaultToken.token.in_(tokens))
    ).scalars()
    return set(found)


# Built once, on the table's columns: every detokenize runs it, and building the expression and
# going through the ORM's statement handling cost more than the query itself.
_table = VaultToken.__table__
_BY_TOKENS = select(*(_table.c[column.key] for column in _LOOKUP_COLUMNS)).where(
    _table.c.tenant == bindparam("tenant"),
    _table.c.token.in_(bindparam("tokens", expanding=True)),
)


def find_by_tokens(session: Session, tenant: str, tokens: Sequence[str]) -> dict[str, TokenRow]:
    if not tokens:
        return {}
    rows = session.connection().execute(
        _BY_TOKENS, {"tenant": tenant, "tokens": sorted(set(tokens))}
    )
    return {row.token: row for row in rows}


def find_by_fingerprints(
    session: Session, tenant: str, token_type: str, fingerprints: Sequence[bytes], scope: str
) -> dict[bytes, TokenRow]:
    """Deterministic tokens already issued in this comparison scope for these fingerprints (one
    per fingerprint; the scope is in the fingerprint too, this only keeps old rows out)."""
    if not fingerprints:
        return {}
    rows = session.execute(
        select(*_LOOKUP_COLUMNS).where(
            VaultToken.tenant == tenant,
            VaultToken.token_type == token_type,
            VaultToken.fingerprint.in_(sorted(set(fingerprints))),
            VaultToken.deterministic.is_(True),
            VaultToken.fingerprint_scope == scope,
        )
    ).all()
    return {row.fingerprint: row for row in rows}  # type: ignore[misc]


def delete_by_ids(session: Session, ids: Sequence[UUID]) -> int:
    if not ids:
        return 0
    result = session.execute(delete(VaultToken).where(VaultToken.id.in_(ids)))
    return int(result.rowcount)  # type: ignore[attr-defined]


def delete_expired(session: Session, now: datetime, limit: int) -> int:
    """Delete up to ``limit`` expired tokens (SAD included); returns how many."""
    ids = (
        session.execute(select(VaultToken.id).where(VaultToken.expires_at <= now).limit(limit))
        .scalars()
        .all()
    )
    return delete_by_ids(session, list(ids))


def subject_key_ids(session: Session, tenant: str, subject: str) -> set[UUID]:
    rows = session.execute(
        select(VaultToken.data_key_id)
        .where(VaultToken.tenant == tenant, VaultToken.subject == subject)
        .distinct()
    ).scalars()
    return set(rows)


def forget_subject_fingerprints(session: Session, tenant: str, subject: str) -> int:
    # A fingerprint of an erased value still links records to it: erase it with the key.
    result = session.execute(
        update(VaultToken)
        .where(VaultToken.tenant == tenant, VaultToken.subject == subject)
        .values(fingerprint=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def count_by_type(session: Session, tenant: str | None) -> dict[str, int]:
    query = select(VaultToken.token_type, func.count()).group_by(VaultToken.token_type)
    if tenant is not None:
        query = query.where(VaultToken.tenant == tenant)
    return {token_type: int(count) for token_type, count in session.execute(query).all()}


def count_expired(session: Session, now: datetime, tenant: str | None) -> int:
    query = select(func.count()).select_from(VaultToken).where(VaultToken.expires_at <= now)
    if tenant is not None:
        query = query.where(VaultToken.tenant == tenant)
    return int(session.execute(query).scalar_one())
