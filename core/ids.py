"""Identifiers: time-ordered UUIDv7 for rows, prefixed random strings for public ids."""

from __future__ import annotations

import os
import secrets
import time
import uuid

_UUID7_VERSION_AND_VARIANT = 0x7 << 76 | 0b10 << 62
_RAND_B_MASK = 0x3FFF_FFFF_FFFF_FFFF
_UNKNOWN_SAFETY = uuid.SafeUUID.unknown  # looked up once: enum members are slow class attributes


def uuid7() -> uuid.UUID:
    """RFC 9562 UUIDv7: 48-bit Unix milliseconds, then random bits; sorts by creation time."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    rand_a = (rand >> 62) & 0xFFF
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | _UUID7_VERSION_AND_VARIANT | rand_a << 64
    return _uuid_from_int(value | rand & _RAND_B_MASK)


def uuid7s(count: int) -> list[uuid.UUID]:
    """``count`` UUIDv7s from one clock reading and one read of the OS's randomness (the rows
    of one batch): the same ids :func:`uuid7` would give within one millisecond."""
    head = ((time.time_ns() // 1_000_000) & 0xFFFF_FFFF_FFFF) << 80 | _UUID7_VERSION_AND_VARIANT
    randomness = os.urandom(10 * count)
    ids = []
    for start in range(0, 10 * count, 10):
        rand = int.from_bytes(randomness[start : start + 10], "big")
        ids.append(_uuid_from_int(head | ((rand >> 62) & 0xFFF) << 64 | rand & _RAND_B_MASK))
    return ids


def _uuid_from_int(value: int) -> uuid.UUID:
    # UUID(int=...) without its argument parsing, which cost more than building the value (one
    # id per stored row); CPython 3.14 adds the same shortcut as UUID._from_int. ``value`` is
    # 128 bits by construction.
    new = object.__new__(uuid.UUID)
    object.__setattr__(new, "int", value)
    object.__setattr__(new, "is_safe", _UNKNOWN_SAFETY)
    return new


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)
