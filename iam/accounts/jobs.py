"""Scheduled account housekeeping: disable accounts inactive for 90 days (PCI DSS 8.2.6) and
delete login sessions that ended long ago."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.jobs import JobResult, Retry, job, schedule
from core.settings import get_settings
from iam.accounts import repository
from iam.accounts.service import disable_user

INACTIVE_REASON = "inactive"
BATCH = 500


class DisableInactiveArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int | None = Field(
        default=None, ge=1, description="Default: RAMPART_INACTIVE_ACCOUNT_DAYS."
    )


@job(
    name="iam.disable_inactive_accounts",
    args_model=DisableInactiveArgs,
    timeout=600,
    retry=Retry(max_attempts=3, backoff_base=30, backoff_max=600),
    security_relevant=True,
)
def disable_inactive_accounts(db: Session, args: DisableInactiveArgs) -> JobResult:
    """Disable active accounts with no login (or, never logged in, no creation) for N days."""
    days = args.days or get_settings().inactive_account_days
    cutoff = utcnow() - timedelta(days=days)
    disabled = 0
    while True:
        batch = repository.inactive_users(db, last_activity_before=cutoff, limit=BATCH)
        for user in batch:
            disable_user(db, user, reason=INACTIVE_REASON)
            disabled += 1
        if len(batch) < BATCH:
            break
    return {"disabled": disabled, "days": days}


class PurgeSessionsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    older_than_days: int = Field(default=7, ge=1)


@job(name="iam.purge_login_sessions", args_model=PurgeSessionsArgs, timeout=600)
def purge_login_sessions(db: Session, args: PurgeSessionsArgs) -> JobResult:
    """Delete login sessions that ended or expired more than N days ago."""
    from iam.sessions.repository import purge_ended_sessions

    deleted = purge_ended_sessions(db, older_than=utcnow() - timedelta(days=args.older_than_days))
    return {"deleted": deleted}


schedule("iam.disable_inactive_accounts", "iam.disable_inactive_accounts", cron="15 2 * * *")
schedule("iam.purge_login_sessions", "iam.purge_login_sessions", cron="45 2 * * *")
