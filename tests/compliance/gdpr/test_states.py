"""The state machine and the officer's decisions on the real database, ledger and mail files."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from compliance.gdpr import decisions, service
from compliance.gdpr.connectors.base import SubjectRef
from compliance.gdpr.exceptions import IllegalTransition
from compliance.gdpr.states import check_transition
from core.database import unit_of_work
from core.errors import Conflict
from core.settings import Settings


def test_illegal_transitions_are_conflicts() -> None:
    check_transition("verified", "in_progress")
    with pytest.raises(IllegalTransition) as raised:
        check_transition("completed", "in_progress")
    assert raised.value.status == 409


def _mails(settings: Settings) -> str:
    return "".join(p.read_text() for p in Path(settings.data_dir, "mail").glob("*.eml"))


def test_erasure_waits_for_approval_reject_notifies_and_extend_sends_notice(
    settings: Settings,
) -> None:
    with unit_of_work() as db:
        erasure = service.file_request(
            db,
            type="erasure",
            subject=SubjectRef("c1", "c1@shop.example"),
            channel="portal",
            actor="subject:c1",
            identity_verified=True,
        )
        assert decisions.start(db, erasure.id, actor="user:o").state == "awaiting_approval"
        assert decisions.approve(db, erasure.id, actor="user:o").state == "in_progress"
        access = service.file_request(
            db,
            type="access",
            subject=SubjectRef("c2", "c2@shop.example"),
            channel="api",
            actor="client:shop",
            identity_verified=True,
        )
        extended = decisions.extend(db, access.id, actor="user:o", months=2, reason="volume")
        assert extended.extended_due_at is not None
        assert extended.extended_due_at - extended.due_at >= timedelta(days=59)
        with pytest.raises(Conflict):
            decisions.extend(db, access.id, actor="user:o", months=1, reason="again")
        decisions.reject(db, access.id, actor="user:o", reason="manifestly unfounded")
    mails = _mails(settings)
    assert "supervisory authority" in mails
    assert "needs more time" in mails
