"""Art. 12(3) due dates: one calendar month, clamped to the month's last day, plus pauses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compliance.gdpr.deadlines import add_months, due_date


def _d(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        ("2028-01-31", "2028-02-29"),
        ("2027-01-31", "2027-02-28"),
        ("2027-03-31", "2027-04-30"),
        ("2027-12-31", "2028-01-31"),
        ("2027-05-15", "2027-06-15"),
    ],
)
def test_month_end_and_leap_years(received: str, due: str) -> None:
    assert due_date(_d(received)) == _d(due)


def test_pauses_add_days_and_extensions_add_months() -> None:
    assert due_date(_d("2027-01-10"), paused_days=3) == _d("2027-02-13")
    assert due_date(_d("2027-01-31"), extension_months=2) == _d("2027-04-30")
    with pytest.raises(ValueError):
        due_date(_d("2027-01-31"), extension_months=3)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_due_is_next_month_never_earlier_and_at_most_31_days(naive: datetime) -> None:
    received = naive.replace(tzinfo=UTC)
    due = due_date(received)
    assert (due.year * 12 + due.month) - (received.year * 12 + received.month) == 1
    assert due.day == min(received.day, due.day)
    assert timedelta(days=28) <= due - received <= timedelta(days=31)
    assert due.time() == received.time()
    assert add_months(received, 12).month == received.month
