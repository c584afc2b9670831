"""What the dashboard pages show, as plain data (no HTML): the posture of each framework and its
weekly trend, the controls list with its filters, a control with its evidence history, one
evidence record with its verification. Every view takes the moment it is "as of" and rebuilds
the state from the evidence as it stood then (compliance.posture's time travel), never from a
snapshot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import orjson
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from compliance.controls import Control, ControlLibrary, Framework
from compliance.models import EvidenceArtefact, EvidenceRecord, Waiver
from compliance.posture import STATUSES, ControlPosture, checks_of, posture, posture_series
from compliance.verification import verify_record

TREND_WEEKS = 52
HISTORY_LIMIT = 50
STATUS_LABELS: dict[str, str] = {
    "pass": "passing",
    "failing": "failing",
    "error": "error",
    "manual-due": "manual due",
    "waived": "waived",
}


def end_of_day(day: date) -> datetime:
    """The last moment of ``day`` (UTC): "as of 2026-01-31" includes everything of that day."""
    return datetime.combine(day, time.max, tzinfo=UTC)


def link(path: str, **params: str | None) -> str:
    """``path`` with the query parameters that are set (in a stable order)."""
    query = urlencode({k: v for k, v in params.items() if v})
    return f"{path}?{query}" if query else path


@dataclass(frozen=True)
class TrendPointView:
    day: date
    counts: dict[str, int]
    percent_passing: float


@dataclass(frozen=True)
class FrameworkView:
    id: str
    name: str
    controls: int
    counts: dict[str, int]
    percent_passing: float
    trend: list[TrendPointView]


def _counts(items: Sequence[ControlPosture]) -> dict[str, int]:
    return {status: sum(1 for i in items if i.status == status) for status in STATUSES}


def _percent(counts: dict[str, int]) -> float:
    """Passing over controls not waived (as /v1/compliance/posture): 100 when all are waived."""
    judged = sum(counts.values()) - counts["waived"]
    return round(100.0 * counts["pass"] / judged, 1) if judged else 100.0


def trend_days(as_of: date, weeks: int = TREND_WEEKS) -> list[date]:
    """Weekly points ending on ``as_of``: ``weeks`` weeks back, oldest first."""
    return [as_of - timedelta(weeks=weeks - n) for n in range(weeks + 1)]


def overview(
    session: Session,
    library: ControlLibrary,
    as_of: date,
    frameworks: Sequence[str] | None = None,
    weeks: int = TREND_WEEKS,
    since: date | None = None,
) -> list[FrameworkView]:
    """Each framework's posture at the end of ``as_of`` and weekly before it (one evidence query
    per framework); points before ``since`` are left out (an auditor's period)."""
    days = [d for d in trend_days(as_of, weeks) if since is None or d >= since]
    views = []
    for framework in library.frameworks.values():
        if frameworks is not None and framework.id not in frameworks:
            continue
        series = posture_series(session, library, [end_of_day(d) for d in days], framework.id)
        trend = []
        for day in days:
            counts = _counts(series[end_of_day(day)])
            trend.append(TrendPointView(day, counts, _percent(counts)))
        current = trend[-1]
        views.append(
            FrameworkView(
                framework.id,
                framework.name,
                sum(current.counts.values()),
                current.counts,
                current.percent_passing,
                trend,
            )
        )
    return views


@dataclass(frozen=True)
class ControlRow:
    posture: ControlPosture
    framework: Framework
    control: Control
    latest_evidence: UUID | None
    """The newest evidence record of the control's checks by then: one click from the list."""


def controls(
    session: Session,
    library: ControlLibrary,
    as_of: date,
    *,
    framework: str | None = None,
    status: str | None = None,
    owner: str | None = None,
    text: str | None = None,
    frameworks: Sequence[str] | None = None,
) -> list[ControlRow]:
    """The controls as of the end of ``as_of``, filtered; ``frameworks`` bounds what is shown
    at all (an auditor's engagement)."""
    moment = end_of_day(as_of)
    needle = (text or "").strip().casefold()
    rows = []
    for item in posture(session, library, moment, framework):
        fw, control = library.control(item.control_id)
        if frameworks is not None and fw.id not in frameworks:
            continue
        if status and item.status != status:
            continue
        if owner and control.owner_role != owner:
            continue
        if needle and needle not in f"{item.control_id} {item.title}".casefold():
            continue
        rows.append(ControlRow(item, fw, control, None))
    latest = _latest_of_controls(session, [(r.framework, r.control) for r in rows], moment)
    return [
        ControlRow(r.posture, r.framework, r.control, latest.get(r.posture.control_id))
        for r in rows
    ]


def _latest_of_controls(
    session: Session, pairs: Sequence[tuple[Framework, Control]], moment: datetime
) -> dict[str, UUID]:
    # The worst evidence first would be a second judgement; the newest is what posture judged.
    found: dict[str, UUID] = {}
    for fw, control in pairs:
        records = evidence_history(session, checks_of(fw, control), moment, limit=1)
        if records:
            found[fw.qualified(control)] = records[0].id
    return found


def evidence_history(
    session: Session,
    check_ids: Sequence[str],
    moment: datetime,
    *,
    since: datetime | None = None,
    limit: int = HISTORY_LIMIT,
) -> list[EvidenceRecord]:
    """The newest ``limit`` records of ``check_ids`` finished by ``moment`` (and not before
    ``since``), newest first."""
    ids = sorted(set(check_ids))
    if not ids:
        return []
    query = select(EvidenceRecord).where(
        EvidenceRecord.check_id.in_(ids), EvidenceRecord.finished_at <= moment
    )
    if since is not None:
        query = query.where(EvidenceRecord.finished_at >= since)
    query = query.order_by(EvidenceRecord.finished_at.desc(), EvidenceRecord.id.desc())
    return list(session.scalars(query.limit(limit)))


@dataclass(frozen=True)
class ControlDetail:
    posture: ControlPosture
    framework: Framework
    control: Control
    checks: list[str]
    history: list[EvidenceRecord]
    waivers: list[Waiver]
    """The control's waivers that counted at the end of the day, the longest-lasting first."""


def control_waivers(session: Session, control_id: str, moment: datetime) -> list[Waiver]:
    """Waivers of one control valid at ``moment``, as compliance.posture.valid_waivers judges
    them (granted by then, not revoked by then, not expired), the one posture uses first."""
    query = (
        select(Waiver)
        .where(
            Waiver.control_id == control_id,
            Waiver.created_at <= moment,
            or_(Waiver.revoked_at.is_(None), Waiver.revoked_at > moment),
            Waiver.expires_at > moment,
        )
        .order_by(Waiver.expires_at.desc(), Waiver.id.desc())
    )
    return list(session.scalars(query))


def control_detail(
    session: Session,
    library: ControlLibrary,
    control_id: str,
    as_of: date,
    since: date | None = None,
) -> ControlDetail:
    """One control as of the end of ``as_of``: KeyError when the library has no such control."""
    fw, control = library.control(control_id)
    moment = end_of_day(as_of)
    (item,) = [p for p in posture(session, library, moment, fw.id) if p.control_id == control_id]
    checks = checks_of(fw, control)
    start = datetime.combine(since, time.min, tzinfo=UTC) if since else None
    history = evidence_history(session, checks, moment, since=start)
    return ControlDetail(
        item, fw, control, checks, history, control_waivers(session, control_id, moment)
    )


@dataclass(frozen=True)
class EvidenceView:
    record: EvidenceRecord
    document: dict[str, Any]
    """The record as JSON (observed and expected parsed), what its signature covers."""
    json: str
    artefacts: list[EvidenceArtefact]
    problems: list[str]
    """Verification: empty when digest, signature, artefacts and ledger entry all hold."""


def evidence(
    session: Session, evidence_id: UUID, trusted_public_keys: Sequence[bytes]
) -> EvidenceView | None:
    record = session.get(EvidenceRecord, evidence_id)
    if record is None:
        return None
    artefacts = list(
        session.scalars(
            select(EvidenceArtefact)
            .where(EvidenceArtefact.evidence_id == record.id)
            .order_by(EvidenceArtefact.position)
        )
    )
    document = {
        "id": str(record.id),
        "check_id": record.check_id,
        "check_version": record.check_version,
        "controls": orjson.loads(record.control_ids),
        "target": record.target,
        "collector": record.collector,
        "started_at": record.started_at.isoformat(),
        "finished_at": record.finished_at.isoformat(),
        "status": record.status,
        "observed": orjson.loads(record.observed),
        "expected": orjson.loads(record.expected),
        "detail": record.detail,
        "artefacts": orjson.loads(record.artefacts),
        "sha256": record.digest,
        "key_fingerprint": record.key_fingerprint,
        "audit_seq": record.audit_seq,
    }
    text = orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()
    problems = verify_record(session, record, trusted_public_keys, artefacts)
    return EvidenceView(record, document, text, artefacts, problems)


# -- findings, GDPR requests, ledger, key and policy changes ----------------------------------

FINDINGS_WINDOW = timedelta(days=90)
"""Findings and requests closed within this long before the as-of day are listed too."""


def _period(as_of: date, since: date | None) -> Any:
    from compliance.exports.contents import Period

    moment = end_of_day(as_of)
    start = datetime.combine(since, time.min, tzinfo=UTC) if since else moment - FINDINGS_WINDOW
    return Period(start=start, end=moment + timedelta(microseconds=1), as_of=moment)


def _days_left(due: str | None, moment: datetime) -> int | None:
    if not due:
        return None
    # Whole days, calendar dates (UTC): due on the as-of day is 0, the day before -1.
    return (datetime.fromisoformat(due.replace("Z", "+00:00")).date() - moment.date()).days


def findings(
    session: Session, as_of: date, *, since: date | None = None, active_only: bool = True
) -> list[dict[str, Any]]:
    """Findings known by the end of ``as_of`` (as the export lists them: the state then where
    the finding records it, fixed later shows open), with their SLA clock; worst first."""
    from compliance.exports.contents import FINDING_HEADER, finding_rows
    from scanners.findings import ACTIVE
    from scanners.rules import risk_rank

    period = _period(as_of, since)
    rows = []
    for values in finding_rows(session, period):
        row = dict(zip(FINDING_HEADER, values, strict=True))
        active = row["status"] in ACTIVE
        if active_only and not active:
            continue
        row["days_left"] = _days_left(row["sla_due_at"], period.as_of) if active else None
        row["overdue"] = active and row["days_left"] is not None and row["days_left"] < 0
        rows.append(row)
    rows.sort(key=lambda r: (-risk_rank(r["risk"]), r["sla_due_at"] or "", r["id"]))
    return rows


def requests(session: Session, as_of: date, *, since: date | None = None) -> list[dict[str, Any]]:
    """GDPR requests open at some point of the window, each as of the end of ``as_of``: state,
    due (extended when the notice was sent by then), days left, overdue. No subject."""
    from compliance.exports.contents import DSAR_HEADER, dsar_rows
    from compliance.gdpr.states import OPEN_STATES

    period = _period(as_of, since)
    rows = []
    for values in dsar_rows(session, period):
        row = dict(zip(DSAR_HEADER, values, strict=True))
        open_now = row["state"] in OPEN_STATES
        due = row["extended_due_at"] or row["due_at"]
        row["days_left"] = _days_left(due, period.as_of) if open_now else None
        row["open"] = open_now
        rows.append(row)
    rows.sort(key=lambda r: (not r["open"], r["days_left"] if r["days_left"] is not None else 0))
    return rows


@dataclass(frozen=True)
class LedgerPage:
    entries: list[Any]
    next_before: int | None
    """The ``before`` of the next (older) page, None on the last."""


LEDGER_PAGE = 50


def ledger(
    session: Session,
    as_of: date,
    *,
    event_type: str | None = None,
    actor: str | None = None,
    resource: str | None = None,
    since: datetime | None = None,
    before: int | None = None,
    prefixes: Sequence[str] = (),
    limit: int = LEDGER_PAGE,
) -> LedgerPage:
    """Ledger entries up to the end of ``as_of``, newest first, ``limit`` a page (keyset on
    seq); event type and resource match a prefix, the actor exactly."""
    from sqlalchemy import or_

    from core.audit.models import AuditEntry

    query = select(AuditEntry).where(AuditEntry.occurred_at <= end_of_day(as_of))
    if since is not None:
        query = query.where(AuditEntry.occurred_at >= since)
    if event_type:
        query = query.where(AuditEntry.event_type.startswith(event_type, autoescape=True))
    if prefixes:
        query = query.where(
            or_(*(AuditEntry.event_type.startswith(p, autoescape=True) for p in prefixes))
        )
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if resource:
        query = query.where(AuditEntry.resource.startswith(resource, autoescape=True))
    if before is not None:
        query = query.where(AuditEntry.seq < before)
    rows = list(session.scalars(query.order_by(AuditEntry.seq.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return LedgerPage(rows, rows[-1].seq if more and rows else None)


def policy_versions(session: Session, as_of: date) -> list[Any]:
    from policies.models import PolicyVersion

    query = (
        select(PolicyVersion)
        .where(PolicyVersion.created_at <= end_of_day(as_of))
        .order_by(PolicyVersion.version.desc())
    )
    return list(session.scalars(query))


CHANGE_EVENTS = ("policy.", "kms.kek.", "kms.data_key", "iam.signing_key.")


def reviews(session: Session, as_of: date, *, since: date | None = None) -> list[dict[str, Any]]:
    """Access reviews opened by the end of ``as_of``, signed off or still open then; a signed-off
    review links to the evidence record its sign-off signed."""
    from compliance.reviews import list_reviews, undecided_counts

    moment = end_of_day(as_of)
    start = datetime.combine(since, time.min, tzinfo=UTC) if since else None
    rows = [
        r
        for r in list_reviews(session)
        if r.opened_at <= moment
        and (start is None or r.signed_off_at is None or r.signed_off_at >= start)
    ]
    undecided = undecided_counts(session, [r.id for r in rows])
    found = []
    for review in rows:
        signed = review.signed_off_at is not None and review.signed_off_at <= moment
        found.append(
            {
                "id": str(review.id),
                "control": review.control_id,
                "scope": " ".join(x for x in (review.scope_object, review.scope_action) if x)
                or "all",
                "reviewer": review.reviewer,
                "policy_version": review.policy_version,
                "opened_at": review.opened_at,
                "signed_off_at": review.signed_off_at if signed else None,
                "signed_off_by": review.signed_off_by if signed else None,
                "evidence_id": review.evidence_id if signed else None,
                "undecided_now": undecided.get(review.id, 0),
            }
        )
    return found
