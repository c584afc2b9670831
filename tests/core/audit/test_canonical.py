"""The hashed form of a time read back as text, whatever digits the database kept."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.audit.canonical import format_occurred_at, hashed_occurred_at


@pytest.mark.parametrize(
    ("stored", "micro"),
    [
        ("2026-03-01 12:00:00", 0),  # PostgreSQL's text of a whole second
        ("2026-03-01 12:00:00.1", 100_000),
        ("2026-03-01 12:00:00.12345", 123_450),
        ("2026-03-01 12:00:00.123456", 123_456),  # SQLite keeps all six digits
        ("2026-03-01 12:00:00.000001", 1),
    ],
)
def test_every_text_form_gives_the_six_digit_form_the_hash_covers(stored: str, micro: int) -> None:
    moment = datetime(2026, 3, 1, 12, 0, 0, micro, tzinfo=UTC)
    assert hashed_occurred_at(stored) == format_occurred_at(moment)
