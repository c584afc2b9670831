"""Public ids of stored tokens (``vt_`` + base62 of the row's UUIDv7).

Base62 rather than the dashed UUID: audit details list these ids, and the ledger refuses any
13-19 digit Luhn-valid run; a dashed UUID holds such runs now and then, base62 practically never.
"""

from __future__ import annotations

import string
from uuid import UUID

from core.errors import RampartError, ValidationFailed

_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
_INDEX = {char: index for index, char in enumerate(_ALPHABET)}
PREFIX = "vt_"
_LENGTH = 22  # 62**22 > 2**128


# Two base62 digits per table lookup and three big-int divisions per id: public ids go in every
# answer and audit entry, and digit-by-digit division of a 128-bit int showed in profiles.
_PAIRS = [high + low for high in _ALPHABET for low in _ALPHABET]
_PAIR = 62 * 62
_CHUNK = 62**6  # three pairs; 22 digits = 3 chunks + 2 pairs


def public_id(row_id: UUID) -> str:
    value = row_id.int
    parts = []
    for _ in range(3):
        value, chunk = divmod(value, _CHUNK)
        high, low = divmod(chunk, _PAIR)
        parts.append(_PAIRS[high // _PAIR] + _PAIRS[high % _PAIR] + _PAIRS[low])
    parts.append(_PAIRS[value // _PAIR] + _PAIRS[value % _PAIR])
    return PREFIX + "".join(reversed(parts))


def row_id(public: str) -> UUID:
    if not public.startswith(PREFIX) or len(public) != len(PREFIX) + _LENGTH:
        raise ValidationFailed("not a vault token id (vt_...)")
    value = 0
    for char in public[len(PREFIX) :]:
        index = _INDEX.get(char)
        if index is None:
            raise ValidationFailed("not a vault token id (vt_...)")
        value = value * 62 + index
    if value >= 1 << 128:
        raise ValidationFailed("not a vault token id (vt_...)")
    return UUID(int=value)


def audit_reason(error: RampartError) -> str:
    """An error's short name for audit details (``not-found``). The ledger refuses keys that
    look like secret names, and every vault slug holds the word "token"."""
    return error.slug.removeprefix("vault-").replace("token-", "")
