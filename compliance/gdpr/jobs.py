"""Data-subject requests on the jobs scheduler.

``gdpr.process_due`` (every 5 minutes) starts verified requests (``decisions.start``: erasure and
rectification then await approval) and runs ``workflow.process_request`` on every request in
progress, the same code path as ``POST /v1/dsar/requests/{id}/process``. A connector that
answered ``pending`` or ``failed`` is asked again on later runs; once it has been asked
``MAX_ATTEMPTS`` times without a final answer the request is escalated (audit
``dsar.request.escalated`` and a mail to the officer) and left to the officer, who can still
process it by hand.

``gdpr.deadline_reminders`` (daily) mails the officer (``RAMPART_GDPR_OFFICER_EMAIL``) the open
requests due within ``REMIND_DAYS``; each overdue one is escalated: audit ``dsar.request.overdue``
and a mail of its own (not those waiting for information asked under 12(6): their clock is
paused).

Both are boundaries: each request in its own units of work (the runner's session untouched), and
one request's failure is logged and counted without stopping the others. Mails name the request
id, type, state and deadline only, never the subject."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from compliance.gdpr import decisions, workflow
from compliance.gdpr.models import DsarOutcome, DsarRequest
from compliance.gdpr.service import get_request
from compliance.gdpr.states import OPEN_STATES
from core.audit.models import AuditEntry
from core.audit.service import record_event
from core.clock import utcnow
from core.database import unit_of_work
from core.jobs import JobResult, NoArgs, job, schedule
from core.mail import Mail, send_mail
from core.settings import get_settings

log = logging.getLogger(__name__)

ACTOR = "system:gdpr"
MAX_ATTEMPTS = 10
REMIND_DAYS = 7
PROCESS_EVERY = timedelta(minutes=5)


def _ids(session: Session, state: str) -> list[UUID]:
    return list(
        session.scalars(
            select(DsarRequest.id)
            .where(DsarRequest.state == state)
            .order_by(DsarRequest.received_at, DsarRequest.id)
        )
    )


def _stuck(session: Session, request_id: UUID) -> list[DsarOutcome]:
    """The outcomes asked MAX_ATTEMPTS times without a final answer."""
    return [
        o
        for o in session.scalars(select(DsarOutcome).where(DsarOutcome.request_id == request_id))
        if o.status not in workflow.FINAL and o.attempts >= MAX_ATTEMPTS
    ]


def _escalated(session: Session, request_id: UUID) -> bool:
    """Whether the ledger holds the request's escalation (written with its mail, atomically:
    a mail that could not go leaves none, and the next run escalates again)."""
    found = session.scalar(
        select(AuditEntry.seq)
        .where(
            AuditEntry.event_type == "dsar.request.escalated",
            AuditEntry.resource == f"dsar/{request_id}",
        )
        .limit(1)
    )
    return found is not None


def _mail_officer(subject: str, body: str) -> bool:
    officer = get_settings().gdpr_officer_email
    if not officer:
        return False
    send_mail(Mail(to=officer, subject=subject, body=body))
    return True


def _escalate(session: Session, request: DsarRequest, stuck: Sequence[DsarOutcome]) -> None:
    connectors = sorted(o.connector for o in stuck)
    record_event(
        session,
        event_type="dsar.request.escalated",
        resource=f"dsar/{request.id}",
        actor=ACTOR,
        details={
            "request_id": str(request.id),
            "type": request.type,
            "connectors": connectors,
            "attempts": MAX_ATTEMPTS,
        },
    )
    # Inside the unit of work: when the mail cannot go, the escalation is tried again next run.
    _mail_officer(
        f"Data protection request {request.id} needs you",
        f"Request {request.id} ({request.type}) got no final answer from "
        f"{', '.join(connectors)} after {MAX_ATTEMPTS} attempts. Look at it with "
        f"`rampart dsar show {request.id}`; `rampart dsar process {request.id}` asks again.\n",
    )


def process_due_requests(factory: sessionmaker[Session] | None = None) -> dict[str, int]:
    """One pass: start the verified, process the in-progress; counts of what happened."""
    counts = {"started": 0, "processed": 0, "completed": 0, "escalated": 0, "errors": 0}
    with unit_of_work(factory, read_only=True) as session:
        verified = _ids(session, "verified")
    for request_id in verified:
        try:
            with unit_of_work(factory) as session:
                if get_request(session, request_id).state == "verified":
                    decisions.start(session, request_id, actor=ACTOR)
                    counts["started"] += 1
        except Exception:
            counts["errors"] += 1
            log.exception("gdpr.process_due: starting request %s failed", request_id)
    with unit_of_work(factory, read_only=True) as session:
        in_progress = _ids(session, "in_progress")
    for request_id in in_progress:
        try:
            with unit_of_work(factory, read_only=True) as session:
                stuck_before = bool(_stuck(session, request_id))
            if not stuck_before:  # stuck: left to the officer, not asked again
                state = workflow.process_request(request_id, factory=factory, actor=ACTOR)
                counts["processed"] += 1
                if state == "completed":
                    counts["completed"] += 1
                    continue
            with unit_of_work(factory) as session:
                stuck = _stuck(session, request_id)
                if stuck and not _escalated(session, request_id):
                    _escalate(session, get_request(session, request_id), stuck)
                    counts["escalated"] += 1
        except Exception:
            counts["errors"] += 1
            log.exception("gdpr.process_due: processing request %s failed", request_id)
    return counts


def _due(request: DsarRequest) -> datetime:
    return request.extended_due_at or request.due_at


def send_deadline_reminders(factory: sessionmaker[Session] | None = None) -> dict[str, int]:
    """Mail the officer what is due within REMIND_DAYS; escalate every overdue request."""
    now = utcnow()
    counts = {"due_soon": 0, "overdue": 0, "mailed": 0, "errors": 0}
    with unit_of_work(factory, read_only=True) as session:
        open_requests = [
            (r.id, r.type, r.state, _due(r))
            for r in session.scalars(
                select(DsarRequest)
                .where(DsarRequest.state.in_(sorted(OPEN_STATES)))
                .order_by(DsarRequest.due_at, DsarRequest.id)
            )
        ]
    soon = [r for r in open_requests if now <= r[3] <= now + timedelta(days=REMIND_DAYS)]
    # A request waiting for information the subject was asked for (12(6)) has its clock paused.
    overdue = [r for r in open_requests if r[3] < now and r[2] != "information_requested"]
    for request_id, type_, state, due in overdue:
        try:
            with unit_of_work(factory) as session:
                record_event(
                    session,
                    event_type="dsar.request.overdue",
                    resource=f"dsar/{request_id}",
                    actor=ACTOR,
                    details={
                        "request_id": str(request_id),
                        "type": type_,
                        "state": state,
                        "due_at": due.isoformat(),
                    },
                )
                mailed = _mail_officer(
                    f"OVERDUE data protection request {request_id}",
                    f"Request {request_id} ({type_}, {state}) was due "
                    f"{due.date().isoformat()} (GDPR Art. 12(3)). "
                    f"`rampart dsar show {request_id}`\n",
                )
            counts["overdue"] += 1
            counts["mailed"] += int(mailed)
        except Exception:
            counts["errors"] += 1
            log.exception("gdpr.deadline_reminders: escalating request %s failed", request_id)
    if soon:
        lines = [
            f"- {request_id} ({type_}, {state}): due {due.date().isoformat()}, "
            f"{(due - now) // timedelta(days=1)} days left"
            for request_id, type_, state, due in soon
        ]
        try:
            mailed = _mail_officer(
                f"{len(soon)} data protection request(s) due within {REMIND_DAYS} days",
                "Due within the week (GDPR Art. 12(3)):\n" + "\n".join(lines) + "\n",
            )
            counts["mailed"] += int(mailed)
        except Exception:
            counts["errors"] += 1
            log.exception("gdpr.deadline_reminders: the reminder mail failed")
    counts["due_soon"] = len(soon)
    return counts


# Each request commits on its own (process_request is a boundary), so the runner's session is
# left untouched, as compliance.run_due does.
@job(
    name="gdpr.process_due",
    args_model=NoArgs,
    timeout=1800,
    security_relevant=True,
    description="Start verified data-subject requests and fulfil those in progress.",
)
def process_due(session: Session, args: NoArgs) -> JobResult:
    return process_due_requests()


schedule("gdpr.process_due", "gdpr.process_due", every=PROCESS_EVERY)


@job(
    name="gdpr.deadline_reminders",
    args_model=NoArgs,
    timeout=600,
    description="Mail the officer the requests due within 7 days; escalate the overdue ones.",
)
def deadline_reminders(session: Session, args: NoArgs) -> JobResult:
    return send_deadline_reminders()


schedule("gdpr.deadline_reminders", "gdpr.deadline_reminders", cron="0 7 * * *")
