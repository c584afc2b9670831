"""Art. 12(3) deadlines: one calendar month from receipt (UTC), the same day of the next month
clamped to that month's last day (2027-01-31 -> 2027-02-28, 2028-01-31 -> 2028-02-29); days the
clock was paused for information requested under 12(6) are added; an extension adds up to two
further months (counted from the original due date, same clamping)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# The control library's cadences use the same calendar-month rule.
from compliance.controls import add_months

__all__ = ["add_months", "due_date"]


def due_date(received_at: datetime, *, paused_days: int = 0, extension_months: int = 0) -> datetime:
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=UTC)
    received_at = received_at.astimezone(UTC)
    if extension_months not in (0, 1, 2):
        raise ValueError("an extension is one or two further months")
    return add_months(received_at, 1 + extension_months) + timedelta(days=paused_days)
