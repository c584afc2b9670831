"""gdpr.process_due starts verified requests, fulfils those in progress, asks a failing connector
again until MAX_ATTEMPTS then escalates once, and one request's failure does not stop the others;
gdpr.deadline_reminders mails the officer what is due within a week and escalates the overdue."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from compliance.gdpr import jobs, service
from compliance.gdpr.connectors import registry
from compliance.gdpr.connectors.base import (
    Connector,
    ConnectorOutcome,
    ConnectorRequest,
    RequestType,
    SubjectRef,
)
from compliance.gdpr.models import DsarOutcome, DsarRequest
from core.audit.models import AuditEntry
from core.clock import utcnow
from core.database import unit_of_work
from core.jobs.registry import get_job, get_schedule
from core.settings import Settings, get_settings
from tests.policies.processes import free_port

OFFICER = "dpo@shop.example"


@dataclass
class Flaky:
    """Fails for the subjects in ``failing``, raises for those in ``broken``, else done."""

    name: str = "crm"
    failing: set[str] = field(default_factory=set)
    broken: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)

    def supports(self, request_type: RequestType) -> bool:
        return True

    def fulfil(self, session: Session, request: ConnectorRequest) -> ConnectorOutcome:
        self.calls.append(request.subject.subject)
        if request.subject.subject in self.broken:
            raise RuntimeError("the CRM fell over")
        if request.subject.subject in self.failing:
            return ConnectorOutcome(self.name, "failed", detail="CRM answered 502")
        return ConnectorOutcome(self.name, "done", 1, "exported")


@pytest.fixture
def officer_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("RAMPART_GDPR_OFFICER_EMAIL", OFFICER)
    get_settings.cache_clear()
    return get_settings()


def _file(type_: RequestType, subject: str, *, verified: bool = True) -> UUID:
    with unit_of_work() as db:
        request = service.file_request(
            db,
            type=type_,
            subject=SubjectRef(subject, f"{subject}@shop.example"),
            channel="api",
            actor="client:shop",
            identity_verified=verified,
        )
        return request.id


def _state(request_id: UUID) -> str:
    with unit_of_work(read_only=True) as db:
        return service.get_request(db, request_id).state


def _entries(event_type: str) -> list[dict[str, object]]:
    with unit_of_work(read_only=True) as db:
        rows = db.scalars(
            select(AuditEntry).where(AuditEntry.event_type == event_type).order_by(AuditEntry.seq)
        )
        return [json.loads(r.details) for r in rows]


def _officer_mail(settings: Settings) -> list[str]:
    texts = [p.read_text() for p in sorted(Path(settings.data_dir, "mail").glob("*.eml"))]
    return [t for t in texts if f"To: {OFFICER}" in t]


def test_jobs_are_declared_and_scheduled() -> None:
    assert get_job("gdpr.process_due").security_relevant
    assert get_job("gdpr.deadline_reminders").name == "gdpr.deadline_reminders"
    assert get_schedule("gdpr.process_due") is not None
    reminders = get_schedule("gdpr.deadline_reminders")
    assert reminders is not None and reminders.timing.cron == "0 7 * * *"


def test_process_due_starts_fulfils_retries_and_escalates_once(
    officer_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    crm = Flaky(failing={"cust-fail"}, broken={"cust-broken"})
    connectors: list[Connector] = [crm]
    monkeypatch.setattr(registry, "connectors_for", lambda session: connectors)
    access = _file("access", "cust-ok")
    erasure = _file("erasure", "cust-erase")
    failing = _file("portability", "cust-fail")
    broken = _file("access", "cust-broken")
    pending_identity = _file("access", "cust-unverified", verified=False)

    first = jobs.process_due_requests()
    # Started: access, erasure (-> awaiting approval), failing, broken. Processed: the three
    # in progress; the broken one raised and is counted, the others went on.
    assert first == {"started": 4, "processed": 2, "completed": 1, "escalated": 0, "errors": 1}
    assert _state(access) == "completed"
    assert _state(erasure) == "awaiting_approval"
    assert _state(pending_identity) == "identity_pending"
    assert _state(failing) == _state(broken) == "in_progress"

    # Later runs ask the failing connector again; the MAX_ATTEMPTS-th failure escalates.
    with unit_of_work() as db:
        db.execute(
            update(DsarOutcome)
            .where(DsarOutcome.request_id == failing)
            .values(attempts=jobs.MAX_ATTEMPTS - 2)
        )
    crm.broken.clear()
    second = jobs.process_due_requests()
    assert second["escalated"] == 0 and second["completed"] == 1  # broken now answered
    third = jobs.process_due_requests()
    assert third["escalated"] == 1
    with unit_of_work(read_only=True) as db:
        outcome = db.get_one(DsarOutcome, (failing, "crm"))
        assert (outcome.status, outcome.attempts) == ("failed", jobs.MAX_ATTEMPTS)
    escalated = _entries("dsar.request.escalated")
    assert [e["request_id"] for e in escalated] == [str(failing)]
    mails = _officer_mail(officer_settings)
    assert len(mails) == 1 and str(failing) in mails[0] and "cust-fail" not in mails[0]

    # Escalated: left to the officer, not asked again by the job, nor escalated again.
    calls = len(crm.calls)
    assert jobs.process_due_requests()["processed"] == 0
    assert len(crm.calls) == calls and len(_entries("dsar.request.escalated")) == 1
    assert len(_officer_mail(officer_settings)) == 1


def test_an_escalation_whose_mail_failed_is_tried_again(
    officer_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    crm = Flaky(failing={"cust-fail"})
    connectors: list[Connector] = [crm]
    monkeypatch.setattr(registry, "connectors_for", lambda session: connectors)
    failing = _file("erasure", "cust-fail")
    with unit_of_work() as db:
        service.transition(
            db, service.get_request(db, failing), "in_progress", actor="user:o", verb="started"
        )
    jobs.process_due_requests()
    with unit_of_work() as db:
        db.execute(
            update(DsarOutcome)
            .where(DsarOutcome.request_id == failing)
            .values(attempts=jobs.MAX_ATTEMPTS - 1)
        )
    # Nothing listens on this port: the officer's mail cannot go.
    monkeypatch.setenv("RAMPART_MAIL_URL", f"smtp://127.0.0.1:{free_port()}")
    get_settings.cache_clear()
    down = jobs.process_due_requests()
    assert (down["escalated"], down["errors"]) == (0, 1)
    assert _entries("dsar.request.escalated") == []
    monkeypatch.delenv("RAMPART_MAIL_URL")
    get_settings.cache_clear()
    up = jobs.process_due_requests()
    assert (up["processed"], up["escalated"], up["errors"]) == (0, 1, 0)
    assert len(_entries("dsar.request.escalated")) == 1
    assert len(_officer_mail(officer_settings)) == 1


def test_reminders_mail_what_is_due_this_week_and_escalate_the_overdue(
    officer_settings: Settings,
) -> None:
    soon, overdue, later = (_file("access", f"cust-{n}", verified=False) for n in range(3))
    done = _file("access", "cust-done", verified=False)
    paused = _file("access", "cust-paused", verified=False)
    now = utcnow()
    with unit_of_work() as db:
        for request_id, due in (
            (soon, now + timedelta(days=3)),
            (overdue, now - timedelta(days=2)),
            (done, now - timedelta(days=2)),
            (paused, now - timedelta(days=2)),
        ):
            db.execute(update(DsarRequest).where(DsarRequest.id == request_id).values(due_at=due))
        service.transition(
            db, service.get_request(db, done), "rejected", actor="user:o", verb="rejected"
        )
        service.request_information(db, paused, actor="user:o", reason="which order?")

    counts = jobs.send_deadline_reminders()
    assert counts == {"due_soon": 1, "overdue": 1, "mailed": 2, "errors": 0}
    assert [e["request_id"] for e in _entries("dsar.request.overdue")] == [str(overdue)]
    mails = _officer_mail(officer_settings)
    assert len(mails) == 2
    digest = next(m for m in mails if "due within 7 days" in m)
    assert str(soon) in digest and str(later) not in digest and str(overdue) not in digest
    alarm = next(m for m in mails if "OVERDUE" in m)
    assert str(overdue) in alarm
    assert all("cust-" not in m for m in mails)  # ids and types only, never the subject


def test_reminders_without_an_officer_address_still_audit(settings: Settings) -> None:
    overdue = _file("erasure", "cust-x", verified=False)
    with unit_of_work() as db:
        db.execute(
            update(DsarRequest)
            .where(DsarRequest.id == overdue)
            .values(due_at=utcnow() - timedelta(days=1))
        )
    assert jobs.send_deadline_reminders() == {
        "due_soon": 0,
        "overdue": 1,
        "mailed": 0,
        "errors": 0,
    }
    assert len(_entries("dsar.request.overdue")) == 1
