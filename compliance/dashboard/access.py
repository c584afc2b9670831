"""What a dashboard caller may see beyond what the policies allow: an auditor sees only the
frameworks and the audit period of an active engagement (compliance.dashboard.engagements), and
nothing once it expired; everyone else the policies let in sees everything up to today."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy.orm import Session

from core.authz import Principal
from core.errors import Forbidden

AUDITOR_ROLE = "auditor"


class NoEngagement(Forbidden):
    slug, title = "no-audit-engagement", "No active audit engagement"


@dataclass(frozen=True)
class Scope:
    """The frameworks (None: all) and the days (inclusive) a caller may see."""

    frameworks: tuple[str, ...] | None
    first_day: date | None
    last_day: date

    def clamp(self, as_of: date | None) -> date:
        """``as_of`` (today when None) moved into the visible days."""
        day = self.last_day if as_of is None or as_of > self.last_day else as_of
        if self.first_day is not None and day < self.first_day:
            day = self.first_day
        return day

    def shows_framework(self, framework: str) -> bool:
        return self.frameworks is None or framework in self.frameworks

    def shows_moment(self, moment: datetime) -> bool:
        """Whether a record made at ``moment`` lies inside the visible days."""
        day = moment.astimezone(UTC).date()
        return day <= self.last_day and (self.first_day is None or day >= self.first_day)

    @property
    def since(self) -> datetime | None:
        if self.first_day is None:
            return None
        return datetime.combine(self.first_day, time.min, tzinfo=UTC)


def scope_for(session: Session, principal: Principal, now: datetime) -> Scope:
    """The caller's scope at ``now``: an auditor's comes from their newest active engagement
    (refused without one); any other role sees every framework up to today."""
    today = now.astimezone(UTC).date()
    if AUDITOR_ROLE not in principal.roles:
        return Scope(None, None, today)
    from compliance.dashboard.engagements import active_engagement

    engagement = active_engagement(session, principal.subject, now)
    if engagement is None:
        raise NoEngagement("an auditor sees the dashboard only during an active engagement")
    last = min(engagement.period_to, today)
    return Scope(tuple(engagement.framework_ids), engagement.period_from, last)
