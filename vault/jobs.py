"""The vault's background work on the job scheduler: purge expired tokens (SAD included) and
destroy spent SAD keys. Rewrapping data keys after a KEK rotation is core.kms's job; vault
keys are ordinary data keys, so it covers them."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.jobs.registry import JobResult, Retry, job, schedule
from vault.lifecycle import PURGE_BATCH, purge_expired


class PurgeArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(default=PURGE_BATCH, ge=1, le=100_000)
    max_batches: int = Field(default=50, ge=1, le=10_000)


@job(
    name="vault.purge_expired",
    args_model=PurgeArgs,
    timeout=300,
    retry=Retry(max_attempts=3, backoff_base=5, backoff_max=60),
    security_relevant=True,
)
def purge_expired_tokens(session: Session, args: PurgeArgs) -> JobResult:
    """Delete expired tokens and destroy SAD keys past their last possible use (PCI DSS 3.3.2)."""
    deleted = destroyed = 0
    for _ in range(args.max_batches):
        report = purge_expired(session, utcnow(), batch_size=args.batch_size)
        deleted += report.tokens_deleted
        destroyed += report.sad_keys_destroyed
        if report.tokens_deleted < args.batch_size:
            break
    return {"deleted": deleted, "sad_keys_destroyed": destroyed}


# Every five minutes: an expired SAD token outlives its TTL by at most that long in storage
# (it is refused on use from the first second).
schedule("vault.purge_expired", "vault.purge_expired", every=timedelta(minutes=5))
