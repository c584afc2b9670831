"""The vault's wire format. Values are accepted only in request bodies (never URLs) and come
back only from detokenize; every batch answers a result or a problem per item, in order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from core.errors import RampartError
from vault.ids import public_id
from vault.records import Deleted, Detokenized, Revealed, TokenRecord
from vault.types import MAX_VALUE_CHARS

# Wider than any type accepts, so an oversize value is refused per item with a precise problem
# (vault-value-too-large) while the request as a whole stays bounded.
WIRE_VALUE_CHARS = 4 * MAX_VALUE_CHARS
MAX_TOKEN_CHARS = 300


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenizeIn(_In):
    value: str = Field(max_length=WIRE_VALUE_CHARS, repr=False)
    subject: str | None = Field(
        default=None,
        max_length=200,
        description="Data subject (customer id): the value is encrypted under that subject's key "
        "and becomes unreadable when the subject is erased.",
    )
    ttl_seconds: int | None = Field(default=None, description="Expire the token after this.")
    format: str | None = Field(
        default=None,
        description="`opaque`, `pan_last4`, `pan_first6_last4`, `email_domain`, `phone_country`.",
    )


class TokenizeBatchIn(_In):
    items: list[TokenizeIn]


class TokenIn(_In):
    token: str = Field(max_length=MAX_TOKEN_CHARS)


class TokensIn(_In):
    tokens: list[str] = Field(description="At most 1000 tokens.")


class DetokenizeIn(TokenIn):
    purpose: str = Field(description="Why the value is needed, e.g. `payment.capture`; audited.")


class DetokenizeBatchIn(TokensIn):
    purpose: str = Field(description="Why the values are needed, e.g. `payment.capture`.")


class SubjectIn(_In):
    subject: str = Field(min_length=1, max_length=200)


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    id: str | None = None


class TokenOut(BaseModel):
    id: str
    token: str
    type: str
    format: str
    deterministic: bool
    single_use: bool
    fingerprint: str | None = Field(
        description="HMAC-SHA256 (hex) under the tenant's key in the caller's comparison scope; "
        "only with the `fingerprint` permission on the type, else null."
    )
    subject: str | None
    created_at: datetime
    expires_at: datetime | None
    created: bool = Field(description="False when a deterministic token issued earlier came back.")

    @classmethod
    def of(cls, record: TokenRecord) -> TokenOut:
        return cls(
            id=public_id(record.id),
            token=record.token,
            type=record.token_type,
            format=record.token_format,
            deterministic=record.deterministic,
            single_use=record.single_use,
            fingerprint=record.fingerprint.hex() if record.fingerprint else None,
            subject=record.subject,
            created_at=record.created_at,
            expires_at=record.expires_at,
            created=record.created,
        )


class DetokenizeOut(BaseModel):
    id: str
    token: str
    value: str

    @classmethod
    def of(cls, item: Detokenized) -> DetokenizeOut:
        return cls(id=public_id(item.id), token=item.token, value=item.value)


class RevealOut(BaseModel):
    id: str
    token: str
    masked: str

    @classmethod
    def of(cls, item: Revealed) -> RevealOut:
        return cls(id=public_id(item.id), token=item.token, masked=item.masked)


class DeletedOut(BaseModel):
    id: str
    token: str

    @classmethod
    def of(cls, item: Deleted) -> DeletedOut:
        return cls(id=public_id(item.id), token=item.token)


class TokenItem(BaseModel):
    index: int
    result: TokenOut | None = None
    error: Problem | None = None


class DetokenizeItem(BaseModel):
    index: int
    result: DetokenizeOut | None = None
    error: Problem | None = None


class RevealItem(BaseModel):
    index: int
    result: RevealOut | None = None
    error: Problem | None = None


class DeletedItem(BaseModel):
    index: int
    result: DeletedOut | None = None
    error: Problem | None = None


class TokenBatchOut(BaseModel):
    items: list[TokenItem]


class DetokenizeBatchOut(BaseModel):
    items: list[DetokenizeItem]


class RevealBatchOut(BaseModel):
    items: list[RevealItem]


class DeletedBatchOut(BaseModel):
    items: list[DeletedItem]


class ErasureOut(BaseModel):
    keys_destroyed: int
    tokens_unreadable: int


class StatsOut(BaseModel):
    tokens_by_type: dict[str, int]
    expired_awaiting_purge: int
    keys_by_kind: dict[str, int]


def problem_of(error: RampartError) -> Problem:
    body: dict[str, Any] = error.to_problem()
    return Problem(
        type=body["type"],
        title=body["title"],
        status=body["status"],
        detail=body["detail"],
        id=body.get("id"),
    )


# ---- the same documents as plain JSON, for the lean routes (vault.hot_endpoints) ---------------
# Building 1000 validated models per batch answer cost more than storing the batch. These give the
# identical JSON (tests compare them with the models above) from trusted in-memory results.


def token_json(record: TokenRecord) -> dict[str, Any]:
    """:class:`TokenOut` as a dict for orjson (datetimes stay objects; dumps writes them)."""
    return {
        "id": public_id(record.id),
        "token": record.token,
        "type": record.token_type,
        "format": record.token_format,
        "deterministic": record.deterministic,
        "single_use": record.single_use,
        "fingerprint": record.fingerprint.hex() if record.fingerprint else None,
        "subject": record.subject,
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "created": record.created,
    }


def detokenized_json(item: Detokenized) -> dict[str, Any]:
    return {"id": public_id(item.id), "token": item.token, "value": item.value}


def problem_json(error: RampartError) -> dict[str, Any]:
    body: dict[str, Any] = error.to_problem()
    return {
        "type": body["type"],
        "title": body["title"],
        "status": body["status"],
        "detail": body["detail"],
        "id": body.get("id"),
    }


def batch_json(outcomes: list[Any], convert: Callable[[Any], dict[str, Any]]) -> bytes:
    """``{"items": [{"index", "result", "error"}...]}`` as the batch models serialize it."""
    items = [
        {"index": i, "result": None, "error": problem_json(o)}
        if isinstance(o, RampartError)
        else {"index": i, "result": convert(o), "error": None}
        for i, o in enumerate(outcomes)
    ]
    return dumps({"items": items})


def dumps(document: dict[str, Any]) -> bytes:
    """Compact JSON with UTC datetimes written as pydantic writes them (``...Z``)."""
    return orjson.dumps(document, option=orjson.OPT_UTC_Z)
