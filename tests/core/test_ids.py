"""Identifiers: UUIDv7 layout (RFC 9562) and time order."""

from __future__ import annotations

import time
import uuid

from core.ids import uuid7, uuid7s


def test_uuid7_has_version_variant_and_time_and_behaves_like_any_uuid() -> None:
    before_ms = time.time_ns() // 1_000_000
    ids = [uuid7() for _ in range(1000)]
    after_ms = time.time_ns() // 1_000_000
    for value in ids:
        assert value.version == 7 and value.variant == uuid.RFC_4122
        assert before_ms <= value.int >> 80 <= after_ms
        assert value == uuid.UUID(str(value)) and hash(value) == hash(uuid.UUID(str(value)))
    assert len(set(ids)) == len(ids)
    stamps = [value.int >> 80 for value in ids]
    assert stamps == sorted(stamps)


def test_uuid7s_are_uuid7s_of_this_millisecond_all_distinct() -> None:
    before_ms = time.time_ns() // 1_000_000
    ids = uuid7s(1000)
    after_ms = time.time_ns() // 1_000_000
    assert len(ids) == 1000 and len(set(ids)) == 1000
    for value in ids:
        assert value.version == 7 and value.variant == uuid.RFC_4122
        assert before_ms <= value.int >> 80 <= after_ms
        assert value == uuid.UUID(str(value))
    assert uuid7s(0) == []
