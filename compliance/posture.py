"""Control status from the stored evidence: the latest evidence of each of a control's checks,
its age against the control's frequency, manual uploads and waivers.

``waived`` (a valid waiver) beats everything; then ``failing`` (a failed check, stale or missing
evidence), ``error`` (a check that could not decide), ``manual-due`` (a manual slot not filled in
time), else ``pass``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import String, column, or_, select, true, values
from sqlalchemy.orm import Session

from compliance.checks import load_all
from compliance.checks.base import REGISTRY
from compliance.controls import Control, ControlLibrary, Framework
from compliance.models import EvidenceRecord, ManualEvidence, Waiver
from core.database import UTCDateTime

ControlStatus = Literal["pass", "failing", "error", "manual-due", "waived"]
STATUSES: tuple[ControlStatus, ...] = ("pass", "failing", "error", "manual-due", "waived")


@dataclass(frozen=True)
class ControlPosture:
    control_id: str
    title: str
    status: ControlStatus
    reasons: tuple[str, ...]
    """Why, one line each: ``iam.lockout_probe failed``, ``no evidence for tls.handshake``."""
    last_evidence_at: datetime | None


def checks_of(framework: Framework, control: Control) -> list[str]:
    """The control's automated checks: those it names and those registered against it."""
    load_all()
    qualified = framework.qualified(control)
    named = list(control.checks)
    registered = (c.id for c in REGISTRY.values() if qualified in c.controls)
    named += sorted(check_id for check_id in registered if check_id not in named)
    return named


def latest_evidence(
    session: Session, check_ids: Iterable[str], as_of: datetime | None = None
) -> dict[str, EvidenceRecord]:
    """The newest evidence record of each check (finished by ``as_of`` when given): one query
    of one index seek per check (``ix_compliance_evidence_check_id`` read backwards), so its
    cost does not grow with the stored history. A GROUP BY over the history read every row:
    0.7 s over a million."""
    ids = sorted(set(check_ids))
    if not ids:
        return {}
    bound = () if as_of is None else (EvidenceRecord.finished_at <= as_of,)
    newest = [
        select(EvidenceRecord.id)
        .where(EvidenceRecord.check_id == check_id, *bound)
        .order_by(EvidenceRecord.finished_at.desc(), EvidenceRecord.id.desc())
        .limit(1)
        .scalar_subquery()
        for check_id in ids
    ]
    rows = session.scalars(select(EvidenceRecord).where(EvidenceRecord.id.in_(newest)))
    return {row.check_id: row for row in rows}


def valid_waivers(session: Session, now: datetime) -> dict[str, Waiver]:
    """Waivers that count at ``now``: granted by then, not revoked by then, not expired
    (expiry needs no job). ``now`` may lie in the past: the posture as of that moment."""
    rows = session.scalars(
        select(Waiver)
        .where(
            Waiver.created_at <= now,
            or_(Waiver.revoked_at.is_(None), Waiver.revoked_at > now),
            Waiver.expires_at > now,
        )
        .order_by(Waiver.expires_at)
    )
    return {row.control_id: row for row in rows}


def latest_manual(session: Session, as_of: datetime | None = None) -> dict[str, ManualEvidence]:
    query = select(ManualEvidence).order_by(ManualEvidence.uploaded_at)
    if as_of is not None:
        query = query.where(ManualEvidence.uploaded_at <= as_of)
    return {row.control_id: row for row in session.scalars(query)}


def posture(
    session: Session, library: ControlLibrary, now: datetime, framework: str | None = None
) -> list[ControlPosture]:
    """The status of every control of ``framework`` (all frameworks when None) at ``now``,
    rebuilt from what was recorded by then: ``now`` in the past shows the posture as it stood
    (time travel from the evidence itself, no snapshots)."""
    pairs = list(library.controls(framework))
    checks = {framework.qualified(c): checks_of(framework, c) for framework, c in pairs}
    evidence = latest_evidence(session, (cid for ids in checks.values() for cid in ids), now)
    waivers = valid_waivers(session, now)
    manual = latest_manual(session, now)
    return [
        _judge(
            fw,
            control,
            checks[fw.qualified(control)],
            evidence,
            waivers.get(fw.qualified(control)),
            manual.get(fw.qualified(control)),
            now,
        )
        for fw, control in pairs
    ]


def _judge(
    framework: Framework,
    control: Control,
    check_ids: list[str],
    evidence: dict[str, EvidenceRecord],
    waiver: Waiver | None,
    manual: ManualEvidence | None,
    now: datetime,
) -> ControlPosture:
    failing: list[str] = []
    errors: list[str] = []
    due: list[str] = []
    times: list[datetime] = []
    for check_id in check_ids:
        record = evidence.get(check_id)
        if record is None:
            failing.append(f"no evidence for {check_id}")
            continue
        times.append(record.finished_at)
        if control.cadence.expires(record.finished_at) <= now:
            failing.append(f"evidence of {check_id} is older than {control.cadence}")
        elif record.status == "fail":
            failing.append(f"{check_id} failed")
        elif record.status == "error":
            errors.append(f"{check_id} could not decide: {record.detail}")
        elif record.status == "manual":
            due.append(f"{check_id} needs manual evidence")
    if control.manual is not None:
        if manual is None:
            due.append("manual evidence not uploaded")
        elif manual.due_at <= now:
            due.append(f"manual evidence was due {manual.due_at:%Y-%m-%d}")
        else:
            times.append(manual.uploaded_at)
    status: ControlStatus = "pass"
    reasons: list[str] = []
    for candidate, found in (("failing", failing), ("error", errors), ("manual-due", due)):
        if found:
            status, reasons = candidate, found  # type: ignore[assignment]
            break
    if waiver is not None:
        reasons = [f"waived until {waiver.expires_at:%Y-%m-%d} by {waiver.approver}", *reasons]
        status = "waived"
    last = max(times, default=None)
    return ControlPosture(framework.qualified(control), control.title, status, tuple(reasons), last)


def posture_series(
    session: Session, library: ControlLibrary, moments: Sequence[datetime], framework: str
) -> dict[datetime, list[ControlPosture]]:
    """:func:`posture` of ``framework`` at each of ``moments`` (a trend), from one evidence query
    for all of them: the newest record of each check at each moment (one index seek each, as in
    :func:`latest_evidence`), then waivers and manual uploads read once and judged per moment."""
    pairs = list(library.controls(framework))
    checks = _checks_of_all(pairs)
    ids = sorted({cid for found in checks.values() for cid in found})
    points = sorted(set(moments))
    if not points:
        return {}
    # Plain rows, not ORM objects: building 2,800 instances cost more than the query.
    history: dict[str, list[_Seen]] = {}
    newest = (
        [i for i in session.scalars(_newest_at_each(ids, points)) if i is not None] if ids else []
    )
    if newest:
        for row in session.execute(
            select(
                EvidenceRecord.id,
                EvidenceRecord.check_id,
                EvidenceRecord.finished_at,
                EvidenceRecord.status,
                EvidenceRecord.detail,
            ).where(EvidenceRecord.id.in_(newest))
        ):
            history.setdefault(row.check_id, []).append(_Seen(*row))
    for found in history.values():
        found.sort(key=lambda r: (r.finished_at, r.id))
    times = {check_id: [r.finished_at for r in found] for check_id, found in history.items()}
    last = points[-1]
    all_waivers = list(session.scalars(select(Waiver).where(Waiver.created_at <= last)))
    uploads = list(
        session.scalars(
            select(ManualEvidence)
            .where(ManualEvidence.uploaded_at <= last)
            .order_by(ManualEvidence.uploaded_at)
        )
    )
    series: dict[datetime, list[ControlPosture]] = {}
    for moment in points:
        # The newest fetched record at or before the moment is the newest stored one: the
        # query fetched exactly that record for this moment.
        evidence: dict[str, EvidenceRecord] = {}
        for check_id, records in history.items():
            index = bisect_right(times[check_id], moment)
            if index:
                evidence[check_id] = records[index - 1]  # type: ignore[assignment]
        waivers = {
            w.control_id: w
            for w in sorted(all_waivers, key=lambda w: w.expires_at)
            if w.created_at <= moment
            and (w.revoked_at is None or w.revoked_at > moment)
            and w.expires_at > moment
        }
        manual = {m.control_id: m for m in uploads if m.uploaded_at <= moment}
        series[moment] = [
            _judge(
                fw,
                control,
                checks[fw.qualified(control)],
                evidence,
                waivers.get(fw.qualified(control)),
                manual.get(fw.qualified(control)),
                moment,
            )
            for fw, control in pairs
        ]
    return series


@dataclass(frozen=True, slots=True)
class _Seen:
    """What :func:`_judge` reads of an evidence record."""

    id: Any
    check_id: str
    finished_at: datetime
    status: str
    detail: str


def _checks_of_all(pairs: Sequence[tuple[Framework, Control]]) -> dict[str, list[str]]:
    """:func:`checks_of` of every control, from one pass over the registry (not one each)."""
    load_all()
    registered: dict[str, list[str]] = {}
    for check in REGISTRY.values():
        for qualified in check.controls:
            registered.setdefault(qualified, []).append(check.id)
    found = {}
    for fw, control in pairs:
        named = list(control.checks)
        extra = registered.get(fw.qualified(control), [])
        found[fw.qualified(control)] = named + sorted(c for c in extra if c not in named)
    return found


def _newest_at_each(check_ids: Sequence[str], moments: Sequence[datetime]) -> Any:
    """The ids of the newest record of each check at each moment: the checks and the moments
    as two small VALUES lists, crossed, each pair one index seek (a correlated LIMIT 1 read
    backwards on ``ix_compliance_evidence_check_id``). One statement of a few hundred bound
    values: building thousands of subqueries took longer to compile than to run. The rows are
    read by these ids in a second statement: joined in one, PostgreSQL's planner could not
    estimate the subquery's ids and hashed a sequential scan of the whole table (170 ms over
    200,000 records) instead of a primary-key lookup each."""
    checks = (
        values(column("check_id", String()), name="trend_checks")
        .data([(check_id,) for check_id in check_ids])
        .cte("trend_checks")
    )
    points = (
        values(column("moment", UTCDateTime()), name="trend_moments")
        .data([(moment,) for moment in moments])
        .cte("trend_moments")
    )
    newest = (
        select(EvidenceRecord.id)
        .where(
            EvidenceRecord.check_id == checks.c.check_id,
            EvidenceRecord.finished_at <= points.c.moment,
        )
        # finished_at alone: the index's own order (an id tie-break made SQLite sort every
        # earlier record of the check, per seek). Records of one check finishing in the same
        # microsecond are a tie either may settle.
        .order_by(EvidenceRecord.finished_at.desc())
        .limit(1)
        .correlate(checks, points)
        .scalar_subquery()
    )
    return select(newest).select_from(checks.join(points, true())).distinct()
