"""Manual-task connectors through the real workflow: the first run opens a task and mails the
assignee (into the mail directory), the request waits, an officer records the result (service
and HTTP API), the next run completes; a mail server that is down opens no task."""

from __future__ import annotations

import email
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from compliance.gdpr import connector_service, decisions, service, workflow
from compliance.gdpr.connector_models import DsarTask
from compliance.gdpr.connector_service import TaskNotFound
from compliance.gdpr.connectors.base import SubjectRef
from compliance.gdpr.models import DsarOutcome
from core.audit.models import AuditEntry
from core.database import unit_of_work
from core.settings import Settings, get_settings

ASSIGNEE = "warehouse-lead@shop.example"


def _configure(sessions: sessionmaker[Session]) -> None:
    with unit_of_work(sessions) as session:
        connector_service.create_manual(
            session,
            name="paper-archive",
            instructions="Find the customer's folder in cabinet B and shred it.",
            assignee_email=ASSIGNEE,
            types=["access", "erasure"],
            actor="user:officer",
        )


def _started_request(sessions: sessionmaker[Session], subject: str = "cust-7") -> UUID:
    with unit_of_work(sessions) as session:
        request = service.file_request(
            session,
            type="access",
            subject=SubjectRef(subject, "cust7@shop.example"),
            channel="officer",
            actor="user:officer",
            identity_verified=True,
        )
        decisions.start(session, request.id, actor="user:officer")
        return request.id


def _mails(settings: Settings) -> list[email.message.Message]:
    directory = settings.data_dir / "mail"
    return [email.message_from_bytes(p.read_bytes()) for p in sorted(directory.glob("*.eml"))]


def test_a_task_is_opened_mailed_recorded_and_the_request_completes(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    _configure(sessions)
    request_id = _started_request(sessions)
    assert workflow.process_request(request_id) == "in_progress"
    with unit_of_work(sessions) as session:
        task = session.get(DsarTask, (request_id, "paper-archive"))
        assert task is not None and task.status == "open"
        outcome = session.get(DsarOutcome, (request_id, "paper-archive"))
        assert outcome is not None and outcome.status == "pending"
    (mail,) = [m for m in _mails(settings) if m["To"] == ASSIGNEE]
    body = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "cabinet B" in body and str(request_id) in body and "cust-7" in body
    # Asked again while open: still pending, no second task or mail.
    assert workflow.process_request(request_id) == "in_progress"
    assert len([m for m in _mails(settings) if m["To"] == ASSIGNEE]) == 1

    with unit_of_work(sessions) as session:
        connector_service.record_task_result(
            session,
            request_id,
            "paper-archive",
            status="done",
            rows_affected=1,
            method="exported",
            note="scanned folder sent",
            actor="user:officer",
        )
    assert workflow.process_request(request_id) == "completed"
    with unit_of_work(sessions) as session:
        outcome = session.get(DsarOutcome, (request_id, "paper-archive"))
        assert outcome is not None and (outcome.status, outcome.rows) == ("done", 1)
        assert outcome.detail == "recorded by user:officer"
        events = {e.event_type for e in session.scalars(select(AuditEntry))}
        assert {"gdpr.task_opened", "gdpr.task_recorded"} <= events
        with pytest.raises(TaskNotFound):  # closed: cannot be recorded twice
            connector_service.record_task_result(
                session, request_id, "paper-archive", status="done", actor="user:officer"
            )


def test_a_mail_server_that_is_down_opens_no_task_and_the_next_run_does(
    settings: Settings, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    _configure(sessions)
    request_id = _started_request(sessions)
    blocked = settings.data_dir / "not-a-directory"
    blocked.write_text("a file where the mail directory should be")
    monkeypatch.setenv("RAMPART_MAIL_URL", Path(blocked / "mail").resolve().as_uri())
    get_settings.cache_clear()
    assert workflow.process_request(request_id) == "in_progress"
    with unit_of_work(sessions) as session:
        assert session.get(DsarTask, (request_id, "paper-archive")) is None
        outcome = session.get(DsarOutcome, (request_id, "paper-archive"))
        assert outcome is not None
        assert (outcome.status, outcome.detail) == ("failed", "the assignee could not be mailed")
    monkeypatch.delenv("RAMPART_MAIL_URL")
    get_settings.cache_clear()
    assert workflow.process_request(request_id) == "in_progress"
    with unit_of_work(sessions) as session:
        task = session.get(DsarTask, (request_id, "paper-archive"))
        assert task is not None and task.status == "open"
