"""When a schedule fires: cron expressions in a time zone, or fixed intervals aligned to the epoch,
so every replica computes the same slot times without talking to the others."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from core.errors import ValidationFailed

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Timing:
    """A cron expression in a time zone, or an interval of whole milliseconds."""

    cron: str | None = None
    timezone: str = "UTC"
    every: timedelta | None = None

    def __post_init__(self) -> None:
        if (self.cron is None) == (self.every is None):
            raise ValidationFailed("a schedule needs exactly one of cron= or every=")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationFailed(f"unknown time zone {self.timezone!r}") from None
        if self.cron is not None and not croniter.is_valid(self.cron):
            raise ValidationFailed(f"invalid cron expression {self.cron!r}")
        if self.every is not None and self.every < timedelta(seconds=1):
            raise ValidationFailed("every= must be at least one second")

    def describe(self) -> str:
        if self.every is not None:
            return f"every {self.every.total_seconds():g}s"
        return f"cron {self.cron} ({self.timezone})"

    def latest_at_or_before(self, moment: datetime) -> datetime:
        """The last slot at or before ``moment`` (UTC)."""
        if self.every is not None:
            step = self.every // timedelta(milliseconds=1)
            elapsed = (moment - EPOCH) // timedelta(milliseconds=1)
            return EPOCH + timedelta(milliseconds=elapsed - elapsed % step)
        local = moment.astimezone(ZoneInfo(self.timezone))
        if croniter.match(self.cron, local.replace(second=0, microsecond=0)) and local.second == 0:
            return local.replace(microsecond=0).astimezone(UTC)
        previous: datetime = croniter(self.cron, local).get_prev(datetime)
        return previous.astimezone(UTC)

    def next_after(self, moment: datetime) -> datetime:
        """The first slot strictly after ``moment`` (UTC)."""
        if self.every is not None:
            return self.latest_at_or_before(moment) + self.every
        local = moment.astimezone(ZoneInfo(self.timezone))
        following: datetime = croniter(self.cron, local).get_next(datetime)
        return following.astimezone(UTC)

    def slots_between(self, after: datetime, until: datetime, limit: int) -> Iterator[datetime]:
        """Slots in ``(after, until]``, oldest first, at most ``limit`` of the newest."""
        newest = self.latest_at_or_before(until)
        if newest <= after:
            return
        found: list[datetime] = [newest]
        cursor = newest
        while len(found) < limit:
            previous = self._previous(cursor)
            if previous <= after:
                break
            found.append(previous)
            cursor = previous
        yield from reversed(found)

    def _previous(self, slot: datetime) -> datetime:
        return self.latest_at_or_before(slot - timedelta(microseconds=1))
