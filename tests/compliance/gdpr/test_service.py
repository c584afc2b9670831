"""The request service on the real database, ledger and KMS: filing, history, transitions,
12(6) pause, withdrawal, single-use package links."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from compliance.gdpr import service
from compliance.gdpr.connectors.base import SubjectRef
from compliance.gdpr.exceptions import IllegalTransition, LinkRefused, RequestNotFound
from core.audit.models import AuditEntry
from core.database import unit_of_work
from core.settings import Settings


def test_filing_history_and_withdrawal(settings: Settings) -> None:
    with unit_of_work() as db:
        request = service.file_request(
            db,
            type="access",
            subject=SubjectRef("cust-1", "c@shop.example"),
            channel="portal",
            actor="subject:cust-1",
            identity_verified=True,
        )
        request_id = request.id
    with unit_of_work() as db:
        assert [r.id for r in service.requests_of_subject(db, "cust-1")] == [request_id]
        with pytest.raises(RequestNotFound):
            service.request_of_subject(db, request_id, "someone-else")
        history = service.request_history(db, request_id)
        assert [(e.from_state, e.to_state) for e in history] == [
            (None, "received"),
            ("received", "verified"),
        ]
        audits = db.scalars(
            select(AuditEntry).where(AuditEntry.event_type.like("dsar.request.%"))
        ).all()
        assert len(audits) == 2
        assert all("c@shop.example" not in str(a.details) for a in audits)
    with unit_of_work() as db:
        done = service.withdraw_request(db, request_id, subject="cust-1", actor="subject:cust-1")
        assert done.state == "withdrawn"
    with pytest.raises(IllegalTransition), unit_of_work() as db:
        service.withdraw_request(db, request_id, subject="cust-1", actor="subject:cust-1")


def test_information_pause_and_package_link_single_use(settings: Settings) -> None:
    with unit_of_work() as db:
        request = service.file_request(
            db,
            type="access",
            subject=SubjectRef("cust-2"),
            channel="api",
            actor="client:shop",
            identity_verified=True,
        )
        request_id = request.id
        service.request_information(db, request_id, actor="user:o", reason="which account?")
        service.answer_information_request(
            db, request_id, subject="cust-2", answer="the shop one", actor="subject:cust-2"
        )
        assert request.state == "verified"
        service.store_package(db, request, "package.zip", b"PK-zip-bytes")
    with unit_of_work() as db:
        token = service.issue_package_link(db, request_id, subject="cust-2")
    with unit_of_work() as db:
        got = service.redeem_package_link(db, request_id, subject="cust-2", token=token)
        assert got.content == b"PK-zip-bytes"
    with pytest.raises(LinkRefused), unit_of_work() as db:
        service.redeem_package_link(db, request_id, subject="cust-2", token=token)
