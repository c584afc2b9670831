"""A data subject's tokens across tenants, for GDPR access and erasure (compliance.gdpr): which
tenants hold the subject, and each token with its value decrypted for the subject's own copy
(card numbers masked, never in clear; SAD never decrypted)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.kms.exceptions import DataKeyDestroyed
from core.kms.service import load_data_key
from vault.crypto import associated_data, decrypt_value
from vault.ids import public_id
from vault.models import VaultToken
from vault.types import TokenType, parse_type


@dataclass(frozen=True, slots=True)
class SubjectToken:
    id: str
    tenant: str
    token_type: str
    token_format: str
    created_at: datetime
    expires_at: datetime | None
    # Personal values in clear; card numbers masked (first six / last four); None when the
    # value's key was destroyed (erased) or the type is never shown (CVC, SAD).
    value: str | None


def subject_tenants(session: Session, subject: str) -> list[str]:
    """Every tenant holding at least one token of ``subject``."""
    query = select(VaultToken.tenant).where(VaultToken.subject == subject).distinct()
    return sorted(session.execute(query).scalars())


def subject_tokens(session: Session, subject: str) -> list[SubjectToken]:
    """Every token of ``subject`` in every tenant, values decrypted for the subject's copy."""
    rows = session.execute(
        select(
            VaultToken.id,
            VaultToken.tenant,
            VaultToken.token,
            VaultToken.token_type,
            VaultToken.token_format,
            VaultToken.data_key_id,
            VaultToken.ciphertext,
            VaultToken.created_at,
            VaultToken.expires_at,
        )
        .where(VaultToken.subject == subject)
        .order_by(VaultToken.tenant, VaultToken.created_at)
    ).all()
    keys: dict[UUID, bytes | None] = {}
    found: list[SubjectToken] = []
    for row in rows:
        spec = parse_type(row.token_type)
        value: str | None = None
        if not spec.sensitive_authentication:
            if row.data_key_id not in keys:
                try:
                    keys[row.data_key_id] = load_data_key(session, row.data_key_id)
                except DataKeyDestroyed:
                    keys[row.data_key_id] = None
            key = keys[row.data_key_id]
            if key is not None:
                aad = associated_data(row.tenant, row.token_type, row.token)
                value = decrypt_value(key, row.ciphertext, aad)
                if spec.type is TokenType.PAN and spec.mask is not None:
                    value = spec.mask(value)
        found.append(
            SubjectToken(
                id=public_id(row.id),
                tenant=row.tenant,
                token_type=row.token_type,
                token_format=row.token_format,
                created_at=row.created_at,
                expires_at=row.expires_at,
                value=value,
            )
        )
    return found
