"""Token rows: a token drawn for each prepared value and the value encrypted under its scope's
key, bound to the token (AES-GCM with the tenant, type and token as associated data), as the
``vault_tokens`` rows to insert, and the records answered for them."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from core.ids import uuid7, uuid7s
from vault.crypto import (
    NONCE_BYTES,
    associated_data,
    deterministic_entropy,
    encrypt_value,
    fingerprint,
)
from vault.formats import ENTROPY_BYTES, generate_token
from vault.oracles import CallerView
from vault.records import PreparedValue, TokenRecord
from vault.types import TypeSpec


def draw_rows(
    tenant: str,
    spec: TypeSpec,
    todo: list[PreparedValue],
    keys: dict[str, tuple[UUID, bytes]],
    fp_key: bytes | None,
    deterministic: bool,
    now: datetime,
    view: CallerView,
) -> list[dict[str, Any]]:
    rows = []
    drawn: set[str] = set()
    for p in todo:
        while True:
            if deterministic and fp_key is not None and p.fingerprint is not None:
                entropy = deterministic_entropy(
                    fp_key, spec.type.value, p.fmt.name, p.attempt, p.fingerprint
                )
            else:
                entropy = os.urandom(ENTROPY_BYTES)
            p.token = generate_token(spec, p.fmt, p.value, entropy)
            if p.token not in drawn:
                break
            p.attempt += 1
        drawn.add(p.token)
        row = token_row(
            tenant, spec, p, p.token, keys, p.fingerprint, now, deterministic, view.scope
        )
        rows.append(row)
    return rows


def draft_rows(
    tenant: str,
    spec: TypeSpec,
    values: Sequence[PreparedValue],
    keys: dict[str, tuple[UUID, bytes]],
    fp_key: bytes | None,
    now: datetime,
    scope: str,
) -> list[dict[str, Any]]:
    """:func:`draw_rows` for random tokens, leaving ``values`` as they are (a batch stored the
    careful way later starts from them) and reading the OS's randomness once for the batch."""
    type_name = spec.type.value
    per_value = ENTROPY_BYTES + NONCE_BYTES
    randomness = os.urandom(per_value * len(values))
    ids = uuid7s(len(values))
    rows = []
    drawn: set[str] = set()
    for position, (p, row_id) in enumerate(zip(values, ids, strict=True)):
        start = position * per_value
        token = generate_token(spec, p.fmt, p.value, randomness[start : start + ENTROPY_BYTES])
        while token in drawn:  # a small token space can repeat within one batch
            token = generate_token(spec, p.fmt, p.value, os.urandom(ENTROPY_BYTES))
        drawn.add(token)
        fp = None if fp_key is None else fingerprint(fp_key, type_name, p.value, scope)
        nonce = randomness[start + ENTROPY_BYTES : start + per_value]
        rows.append(
            token_row(
                tenant, spec, p, token, keys, fp, now, False, scope, row_id=row_id, nonce=nonce
            )
        )
    return rows


def token_row(
    tenant: str,
    spec: TypeSpec,
    p: PreparedValue,
    token: str,
    keys: dict[str, tuple[UUID, bytes]],
    fp: bytes | None,
    now: datetime,
    deterministic: bool,
    scope: str,
    *,
    row_id: UUID | None = None,
    nonce: bytes | None = None,
) -> dict[str, Any]:
    """The ``vault_tokens`` row of one value: its value encrypted under its scope's key, bound
    to the token (a fresh id and nonce unless the caller drew them for a whole batch)."""
    key_id, key = keys[p.scope]
    aad = associated_data(tenant, spec.type.value, token)
    return {
        "id": row_id or uuid7(),
        "tenant": tenant,
        "token": token,
        "token_type": spec.type.value,
        "token_format": p.fmt.name,
        "deterministic": deterministic,
        "single_use": spec.sensitive_authentication,
        "data_key_id": key_id,
        "ciphertext": encrypt_value(key, p.value, aad, nonce=nonce),
        "fingerprint": fp,
        "fingerprint_scope": scope if fp is not None else None,
        "subject": p.subject,
        "created_at": now,
        "expires_at": p.expires_at,
    }


def record(row: Any, *, created: bool) -> TokenRecord:
    return TokenRecord(
        id=row["id"],
        token=row["token"],
        token_type=row["token_type"],
        token_format=row["token_format"],
        deterministic=row["deterministic"],
        single_use=row["single_use"],
        fingerprint=row["fingerprint"],
        subject=row["subject"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        created=created,
    )
