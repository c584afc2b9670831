"""The data members of an export, each produced as a stream of byte chunks read from the
database in keyset-paged batches, so a period of a million records is written in bounded memory.

Every reader takes the period ``[start, end)`` and the moment ``as_of``: only what was recorded
by ``as_of`` is exported (the export of a past date is rebuilt from the records themselves)."""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from compliance.controls import Framework
from compliance.models import EvidenceArtefact, EvidenceRecord
from compliance.posture import ControlPosture
from core.audit.canonical import format_occurred_at
from core.audit.models import AuditCheckpoint, AuditEntry
from scanners.models import Finding, Scan, ScanTarget

BATCH = 2000


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime  # exclusive
    as_of: datetime

    @property
    def until(self) -> datetime:
        """Records count up to the earlier of the period's end and the as-of moment."""
        return min(self.end, self.as_of)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else format_occurred_at(moment)


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """CSV (RFC 4180, CRLF) in chunks of about a batch of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for count, row in enumerate(rows, 1):
        writer.writerow(["" if value is None else value for value in row])
        if count % BATCH == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def json_array_chunks(items: Iterable[Any]) -> Iterator[bytes]:
    """A JSON array, one element per line, written as the elements arrive."""
    yield b"[\n"
    first = True
    for item in items:
        yield (b"" if first else b",\n") + orjson.dumps(item)
        first = False
    yield b"\n]\n"


# -- evidence -------------------------------------------------------------------------------


def _evidence_filter(framework: Framework, period: Period) -> Any:
    return and_(
        EvidenceRecord.finished_at >= period.start,
        EvidenceRecord.finished_at < period.until,
        EvidenceRecord.control_ids.like(f'%"{framework.id}:%'),
    )


def evidence_count(session: Session, framework: Framework, period: Period) -> int:
    query = select(func.count()).where(_evidence_filter(framework, period))
    return int(session.scalar(query) or 0)


def evidence_records(
    session: Session, framework: Framework, period: Period
) -> Iterator[dict[str, Any]]:
    """Each record with its signature: `rampart evidence verify` re-checks every one offline.
    One query in the order of ``ix_compliance_evidence_finished_at``, streamed in batches
    (a server-side cursor on PostgreSQL): keyset pages ordered by id made SQLite sort the whole
    period again for every page."""
    columns = (
        EvidenceRecord.id,
        EvidenceRecord.check_id,
        EvidenceRecord.check_version,
        EvidenceRecord.control_ids,
        EvidenceRecord.target,
        EvidenceRecord.collector,
        EvidenceRecord.started_at,
        EvidenceRecord.finished_at,
        EvidenceRecord.status,
        EvidenceRecord.observed,
        EvidenceRecord.expected,
        EvidenceRecord.detail,
        EvidenceRecord.artefacts,
        EvidenceRecord.digest,
        EvidenceRecord.signature,
        EvidenceRecord.key_fingerprint,
        EvidenceRecord.audit_seq,
    )
    query = (
        select(*columns)
        .where(_evidence_filter(framework, period))
        .order_by(EvidenceRecord.finished_at, EvidenceRecord.id)
        .execution_options(yield_per=BATCH)
    )
    for row in session.execute(query):
        yield {
            "id": str(row.id),
            "check_id": row.check_id,
            "check_version": row.check_version,
            "control_ids": orjson.Fragment(row.control_ids),
            "target": row.target,
            "collector": row.collector,
            "started_at": _iso(row.started_at),
            "finished_at": _iso(row.finished_at),
            "status": row.status,
            "observed": orjson.Fragment(row.observed),
            "expected": orjson.Fragment(row.expected),
            "detail": row.detail,
            "artefacts": orjson.Fragment(row.artefacts),
            "digest": row.digest,
            "signature": base64.b64encode(row.signature).decode("ascii"),
            "key_fingerprint": row.key_fingerprint,
            "audit_seq": row.audit_seq,
        }


def evidence_artefacts(
    session: Session, framework: Framework, period: Period
) -> Iterator[tuple[str, bytes]]:
    """(sha256, bytes) of each artefact of the exported records, once per content."""
    seen: set[str] = set()
    ids = select(EvidenceRecord.id).where(_evidence_filter(framework, period))
    last: UUID | None = None
    while True:
        query = (
            select(EvidenceArtefact.id, EvidenceArtefact.sha256, EvidenceArtefact.content)
            .where(EvidenceArtefact.evidence_id.in_(ids))
            .order_by(EvidenceArtefact.id)
            .limit(200)
        )
        if last is not None:
            query = query.where(EvidenceArtefact.id > last)
        rows = list(session.execute(query))
        if not rows:
            return
        for _, sha256, content in rows:
            if sha256 not in seen:
                seen.add(sha256)
                yield sha256, bytes(content)
        last = rows[-1][0]


# -- controls -------------------------------------------------------------------------------

CONTROL_HEADER = ("control_id", "title", "reference", "status", "reasons", "last_evidence_at")


def control_rows(framework: Framework, postures: Sequence[ControlPosture]) -> Iterator[list[Any]]:
    titles = {framework.qualified(c): c for c in framework.controls}
    for item in postures:
        control = titles[item.control_id]
        yield [
            item.control_id,
            item.title,
            control.reference,
            item.status,
            "; ".join(item.reasons),
            _iso(item.last_evidence_at),
        ]


# -- findings and scans ---------------------------------------------------------------------

FINDING_HEADER = (
    "id",
    "target",
    "rule",
    "title",
    "risk",
    "cwe",
    "status",
    "url_template",
    "parameter",
    "method",
    "first_seen_at",
    "last_seen_at",
    "sla_due_at",
    "fixed_at",
    "accepted_until",
    "reason",
    "approver",
)


def _findings_in_period(period: Period) -> Any:
    # Known by the end of the period, and not fixed before it started.
    return and_(
        Finding.first_seen_at < period.until,
        or_(Finding.fixed_at.is_(None), Finding.fixed_at >= period.start),
    )


def finding_rows(session: Session, period: Period) -> Iterator[list[Any]]:
    last: UUID | None = None
    while True:
        query = (
            select(Finding, ScanTarget.name)
            .join(ScanTarget, ScanTarget.id == Finding.target_id)
            .where(_findings_in_period(period))
            .order_by(Finding.id)
            .limit(BATCH)
        )
        if last is not None:
            query = query.where(Finding.id > last)
        rows = list(session.execute(query))
        if not rows:
            return
        for finding, target in rows:
            # Fixed after the period: it was still open then (the rest of the lifecycle is as
            # it stands now; each change is in the exported ledger segment).
            fixed_later = finding.fixed_at is not None and finding.fixed_at >= period.until
            yield [
                str(finding.id),
                target,
                finding.rule,
                finding.title,
                finding.risk,
                finding.cwe,
                "open" if fixed_later else finding.status,
                finding.url_template,
                finding.parameter,
                finding.method,
                _iso(finding.first_seen_at),
                _iso(finding.last_seen_at),
                _iso(finding.sla_due_at),
                None if fixed_later else _iso(finding.fixed_at),
                _iso(finding.accepted_until),
                finding.reason,
                finding.approver,
            ]
        last = rows[-1][0].id
        session.expunge_all()


def finding_count(session: Session, period: Period) -> int:
    return int(session.scalar(select(func.count()).where(_findings_in_period(period))) or 0)


def sarif_reports(session: Session, period: Period) -> Iterator[tuple[str, bytes]]:
    """(member name, SARIF) of each target's last finished scan in the period, with the
    target's findings as they stood at the end of the period."""
    from scanners.reports import render

    for target in session.scalars(select(ScanTarget).order_by(ScanTarget.name)):
        scan = session.scalars(
            select(Scan)
            .where(
                Scan.target_id == target.id,
                Scan.finished_at >= period.start,
                Scan.finished_at < period.until,
            )
            .order_by(Scan.finished_at.desc())
            .limit(1)
        ).first()
        if scan is None:
            continue
        findings = session.scalars(
            select(Finding).where(Finding.target_id == target.id, _findings_in_period(period))
        ).all()
        sarif = render("sarif", target=target, scan=scan, findings=findings)
        yield f"scans/{target.name}-{scan.id}.sarif", sarif


# -- the audit ledger -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerSegment:
    first_seq: int
    last_seq: int  # the last entry exported: the first checkpoint at or after the period's end
    entries_in_period: int


def ledger_segment(session: Session, period: Period) -> LedgerSegment | None:
    """The entries of the period, extended to the first signed checkpoint after them so every
    exported entry is covered by a signature (the caller signs the head first when none is)."""
    first = session.scalar(
        select(func.min(AuditEntry.seq)).where(
            AuditEntry.occurred_at >= period.start, AuditEntry.occurred_at < period.until
        )
    )
    if first is None:
        return None
    last_in_period = session.scalar(
        select(func.max(AuditEntry.seq)).where(
            AuditEntry.occurred_at >= period.start, AuditEntry.occurred_at < period.until
        )
    )
    last = int(last_in_period if last_in_period is not None else first)
    covering = session.scalar(
        select(func.min(AuditCheckpoint.seq)).where(AuditCheckpoint.seq >= last)
    )
    return LedgerSegment(int(first), int(covering or last), last - int(first) + 1)


def ledger_entries(session: Session, segment: LedgerSegment) -> Iterator[bytes]:
    """JSON Lines: each entry's hashed fields exactly as stored, ``details`` as its text, read
    through the ledger verifier's own driver-level stream (a server-side cursor on PostgreSQL)."""
    from contextlib import closing

    from core.audit.canonical import hashed_occurred_at
    from core.audit.verification import stream_entries

    rows = stream_entries(
        session, after_seq=segment.first_seq - 1, through_seq=segment.last_seq, batch=BATCH * 5
    )
    lines: list[bytes] = []
    with closing(rows):
        for (
            seq,
            at,
            actor,
            kind,
            outcome,
            origin,
            resource,
            request_id,
            details,
            prev,
            hashed,
        ) in rows:
            entry = {
                "seq": seq,
                "prev_hash": prev,
                "occurred_at": hashed_occurred_at(at),  # the stream reads the time as text
                "actor": actor,
                "event_type": kind,
                "outcome": outcome,
                "origin": origin,
                "resource": resource,
                "request_id": request_id,
                "details": details,
                "hash": hashed,
            }
            lines.append(orjson.dumps(entry))
            if len(lines) == BATCH:
                yield b"\n".join(lines) + b"\n"
                lines.clear()
    if lines:
        yield b"\n".join(lines) + b"\n"


def ledger_checkpoints(session: Session, segment: LedgerSegment) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(AuditCheckpoint)
        .where(AuditCheckpoint.seq >= segment.first_seq, AuditCheckpoint.seq <= segment.last_seq)
        .order_by(AuditCheckpoint.seq)
    )
    return [
        {
            "seq": row.seq,
            "hash": row.hash,
            "signed_at": _iso(row.signed_at),
            "key_fingerprint": row.key_fingerprint,
            "signature": base64.b64encode(row.signature).decode("ascii"),
        }
        for row in rows
    ]


# -- GDPR requests --------------------------------------------------------------------------

DSAR_HEADER = (
    "request_id",
    "type",
    "channel",
    "state",
    "received_at",
    "due_at",
    "extended_due_at",
    "completed_at",
    "overdue",
)


def dsar_rows(session: Session, period: Period) -> Iterator[list[Any]]:
    """Each request open at some point of the period, with its state as of the as-of moment
    (the last transition by then). No subject, address or content: the request id leads to
    the certificate, which is where an auditor checks what was done."""
    from compliance.gdpr.models import DsarEvent, DsarRequest
    from compliance.gdpr.states import OPEN_STATES

    requests = list(
        session.scalars(
            select(DsarRequest)
            .where(
                DsarRequest.received_at < period.until,
                or_(DsarRequest.completed_at.is_(None), DsarRequest.completed_at >= period.start),
            )
            .order_by(DsarRequest.received_at, DsarRequest.id)
        )
    )
    states: dict[UUID, str] = {}
    for request_id, to_state in session.execute(
        select(DsarEvent.request_id, DsarEvent.to_state)
        .where(DsarEvent.at <= period.as_of)
        .order_by(DsarEvent.at, DsarEvent.id)
    ):
        states[request_id] = to_state
    for request in requests:
        state = states.get(request.id, "received")
        notified = request.extension_notified_at
        extended = (
            request.extended_due_at if notified is not None and notified <= period.as_of else None
        )
        completed = (
            request.completed_at
            if request.completed_at and request.completed_at <= period.as_of
            else None
        )
        due = extended or request.due_at
        yield [
            str(request.id),
            request.type,
            request.channel,
            state,
            _iso(request.received_at),
            _iso(request.due_at),
            _iso(extended),
            _iso(completed),
            "yes" if state in OPEN_STATES and due < period.as_of else "no",
        ]
