"""What the vault's service functions take and give back (plain dataclasses, no ORM objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from core.errors import RampartError
from vault.formats import TokenFormat

MAX_BATCH_ITEMS = 1000


@dataclass(frozen=True, slots=True)
class TokenizeRequest:
    value: str = field(repr=False)
    subject: str | None = None
    ttl_seconds: int | None = None
    format: str | None = None


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A stored token as callers may see it: never the value."""

    id: UUID
    token: str
    token_type: str
    token_format: str
    deterministic: bool
    single_use: bool
    fingerprint: bytes | None
    subject: str | None
    created_at: datetime
    expires_at: datetime | None
    created: bool = True  # False: a deterministic token issued earlier was returned


@dataclass(frozen=True, slots=True)
class Detokenized:
    id: UUID
    token: str
    value: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Revealed:
    id: UUID
    token: str
    masked: str


@dataclass(frozen=True, slots=True)
class Deleted:
    id: UUID
    token: str


ItemOutcome = TokenRecord | Detokenized | Revealed | Deleted | RampartError
Outcome = TokenRecord | RampartError  # a tokenized item's result


@dataclass(slots=True)
class PreparedValue:
    """One tokenize item after validation: normalized value, format, key scope, expiry."""

    index: int
    value: str = field(repr=False)
    fmt: TokenFormat
    subject: str | None
    scope: str
    expires_at: datetime | None
    fingerprint: bytes | None = None
    attempt: int = 0
    token: str = ""
