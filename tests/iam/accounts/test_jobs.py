"""The inactive-accounts job (PCI DSS 8.2.6) on the job system's registry and runner."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.models import AuditEntry
from core.clock import utcnow
from core.jobs import get_job
from core.jobs.registry import get_schedule
from iam.accounts import jobs
from iam.accounts.service import create_user
from tests.iam.accounts.support import PASSWORD


def test_inactive_accounts_are_disabled_and_audited(db: Session) -> None:
    old, _ = create_user(db, "old@example.com", password=PASSWORD)
    never, _ = create_user(db, "never@example.com")
    recent, _ = create_user(db, "recent@example.com")
    old.last_login_at = utcnow() - timedelta(days=91)
    never.created_at = utcnow() - timedelta(days=120)
    recent.last_login_at = utcnow() - timedelta(days=10)
    recent.created_at = utcnow() - timedelta(days=400)
    db.commit()

    spec = get_job("iam.disable_inactive_accounts")
    result = spec.function(db, spec.validate_args({}))
    db.commit()
    assert result == {"disabled": 2, "days": 90}
    for user in (old, never, recent):
        db.refresh(user)
    assert old.status == never.status == "disabled" and recent.status == "active"
    assert old.disabled_reason == jobs.INACTIVE_REASON
    events = db.scalars(select(AuditEntry).where(AuditEntry.event_type == "iam.user.disabled"))
    assert sorted(json.loads(e.details)["reason"] for e in events) == ["inactive", "inactive"]


def test_jobs_are_scheduled_daily() -> None:
    schedule = get_schedule("iam.disable_inactive_accounts")
    assert schedule is not None and schedule.timing.cron == "15 2 * * *"
    assert get_job("iam.disable_inactive_accounts").security_relevant
    assert get_schedule("iam.purge_login_sessions") is not None
