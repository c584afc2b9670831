"""The demo shop's past, so the dashboard has a trend to show: one run of every check each day of
the 90 days before the seed, recorded through the evidence store like any run (signed, each in
the audit ledger) and labelled on every record as demo history, never as an observation.

Each day repeats the result the real run of the seed just observed, except in the episodes
below: controls that failed for a while and were fixed, one check that could not decide, and
the planted administrator without a second factor, who appears two weeks before the seed. The
other planted weakness (an account unused for 200 days) fails throughout, as it would have.

The records' start and end times lie in the past; their ledger entries are appended now, with
the ledger's real time (the ledger never lies about when it learnt something): docs/dashboard.md,
"Demo history"."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from compliance.checks.base import CheckStatus, Json
    from compliance.engine import RunResult
    from compliance.evidence import Outcome
    from compliance.models import EvidenceRecord
    from core.audit.signing import Signer

COLLECTOR = "demo-history"
HISTORY_DAYS = 90
RUN_AT = time(2, 0)  # the demo shop's nightly run, UTC
LABEL = "demo history written by `rampart demo seed`, not observed"


@dataclass(frozen=True)
class Episode:
    """``check`` answered ``status`` from ``first`` to ``last`` days before the seed (both
    inclusive); ``observed`` builds what it saw from what the real run observes now."""

    check: str
    first: int
    last: int
    status: CheckStatus
    observed: Callable[[Json], Json]
    story: str


def _pages_with(problem: str) -> Callable[[Json], Json]:
    def observed(now: Json) -> Json:
        pages = list(now.get("pages", [])) if isinstance(now, Mapping) else []
        return {"pages": pages, "problems": [f"{page}: {problem}" for page in pages]}

    return observed


EPISODES: tuple[Episode, ...] = (
    Episode(
        "iam.session_idle_timeout",
        90,
        64,
        "fail",
        lambda _: {"session_idle_timeout": 3600},
        "idle sessions lasted an hour until RAMPART_SESSION_IDLE_TIMEOUT was set to 900",
    ),
    Episode(
        "authz.no_wildcard_card_access",
        90,
        71,
        "fail",
        lambda _: {"broad_rules": ["p, role:support, rampart, vault/*, *, allow, mfa"]},
        "support could act on every vault type until the rule was narrowed",
    ),
    Episode(
        "audit.checkpoint_interval",
        70,
        50,
        "fail",
        lambda _: {"audit_checkpoint_seconds": 7200.0},
        "the ledger was signed every two hours until RAMPART_AUDIT_CHECKPOINT_SECONDS=300",
    ),
    Episode(
        "web.security_headers_probe",
        90,
        36,
        "fail",
        _pages_with("script-src allows 'unsafe-inline'"),
        "the login page allowed inline scripts until its CSP was tightened",
    ),
    Episode(
        "gdpr.dsar_deadlines",
        33,
        27,
        "fail",
        lambda _: {"extended_without_notice": 0, "open_requests": 3, "overdue": 1},
        "an access request passed its one-month deadline before it was answered",
    ),
    Episode(
        "audit.clock_sync_probe",
        20,
        19,
        "error",
        lambda _: None,
        "the time server did not answer within the check's timeout",
    ),
    Episode(
        "iam.admins_enrolled_mfa",
        90,
        15,
        "pass",
        lambda _: {"administrators_without_factor": []},
        "every administrator had a second factor until a new one was added without",
    ),
)


def history_days(today: date) -> list[date]:
    """The days of the history, oldest first: the 90 days before ``today``."""
    return [today - timedelta(days=ago) for ago in range(HISTORY_DAYS, 0, -1)]


def _episode_on(check_id: str, ago: int) -> Episode | None:
    for episode in EPISODES:
        if episode.check == check_id and episode.last <= ago <= episode.first:
            return episode
    return None


def history_outcomes(
    results: Sequence[RunResult], records: Mapping[str, EvidenceRecord], today: date
) -> list[list[Outcome]]:
    """One list of outcomes per day (oldest first), one outcome per check the real run ran:
    ``records`` are that run's evidence records by check id (their target and duration)."""
    from compliance.checks import load_all
    from compliance.checks.base import CheckResult
    from compliance.evidence import Outcome

    registry = load_all()
    days: list[list[Outcome]] = []
    for day in history_days(today):
        ago = (today - day).days
        start = datetime.combine(day, RUN_AT, tzinfo=UTC)
        outcomes: list[Outcome] = []
        for result in sorted(results, key=lambda item: item.check):
            check, record = registry[result.check], records[result.check]
            episode = _episode_on(result.check, ago)
            if episode is None:
                answer = CheckResult(
                    cast("CheckStatus", result.status),
                    result.observed,
                    result.expected,
                    f"{LABEL}: the seed's real run of {today.isoformat()} repeated",
                    target=record.target,
                )
            else:
                answer = CheckResult(
                    episode.status,
                    episode.observed(result.observed),
                    None if episode.status == "error" else result.expected,
                    f"{LABEL}: {episode.story}",
                    target=record.target,
                )
            took = max(record.finished_at - record.started_at, timedelta(milliseconds=1))
            outcomes.append(Outcome(check, answer, start, start + took))
            start += took + timedelta(milliseconds=50)
        days.append(outcomes)
    return days


def record_history(
    session: Session,
    signer: Signer,
    results: Sequence[RunResult],
    today: date,
) -> int:
    """Sign and ledger the demo history in the caller's transaction (all of it or none);
    returns how many records it wrote."""
    from sqlalchemy import select

    from compliance.evidence import record_evidence_many
    from compliance.models import EvidenceRecord
    from core.audit.service import record_event

    ids = [item.evidence_id for item in results]
    found = session.scalars(select(EvidenceRecord).where(EvidenceRecord.id.in_(ids)))
    records = {row.check_id: row for row in found}
    written = 0
    for outcomes in history_outcomes(results, records, today):
        written += len(record_evidence_many(session, signer, outcomes, collector=COLLECTOR))
    days = history_days(today)
    record_event(
        session,
        event_type="demo.history_recorded",
        resource="compliance/evidence",
        details={
            "collector": COLLECTOR,
            "records": written,
            "first_day": days[0].isoformat(),
            "last_day": days[-1].isoformat(),
            "note": "demo history, not observed: each record's detail says so",
        },
    )
    return written


def has_history(session: Session) -> bool:
    from sqlalchemy import select

    from compliance.models import EvidenceRecord

    found = session.scalar(
        select(EvidenceRecord.id).where(EvidenceRecord.collector == COLLECTOR).limit(1)
    )
    return found is not None
