"""Jobs the core ships with, so the scheduler has real work on day one: signing audit
checkpoints and pruning old run records."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete
from sqlalchemy.orm import Session

from core.audit.checkpoints import sign_due_checkpoints
from core.clock import utcnow
from core.jobs.config import JobsConfig
from core.jobs.models import JobRun
from core.jobs.registry import JobResult, NoArgs, Retry, job, schedule
from core.kms.provider import get_key_provider
from core.settings import get_settings


@job(
    name="audit.checkpoint",
    args_model=NoArgs,
    timeout=120,
    retry=Retry(max_attempts=3, backoff_base=5, backoff_max=60),
    security_relevant=True,
)
def sign_audit_checkpoints(session: Session, args: NoArgs) -> JobResult:
    """Sign the audit checkpoints that are due (PCI DSS 10.3.4: detect ledger tampering)."""
    settings = get_settings()
    signed = sign_due_checkpoints(
        session,
        get_key_provider(),
        settings.audit_checkpoint_every,
        settings.audit_checkpoint_seconds,
    )
    return {"checkpoints": len(signed), "through_seq": signed[-1].seq if signed else None}


class PruneRunsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    older_than_days: int | None = Field(
        default=None, ge=1, description="Default: RAMPART_JOBS_RUN_RETENTION_DAYS."
    )


@job(name="jobs.prune_runs", args_model=PruneRunsArgs, timeout=600)
def prune_finished_runs(session: Session, args: PruneRunsArgs) -> JobResult:
    """Delete finished run records older than the retention period (queued/running stay)."""
    days = args.older_than_days or JobsConfig.from_settings(get_settings()).run_retention_days
    cutoff = utcnow() - timedelta(days=days)
    deleted = session.execute(
        delete(JobRun)
        .where(JobRun.status.in_(("succeeded", "failed")), JobRun.finished_at < cutoff)
        .execution_options(synchronize_session=False)
    )
    return {"deleted": getattr(deleted, "rowcount", 0), "older_than_days": days}


schedule("audit.checkpoint", "audit.checkpoint", every=timedelta(minutes=1))
schedule("jobs.prune_runs", "jobs.prune_runs", cron="30 3 * * *", timezone="UTC")
