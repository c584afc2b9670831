"""``compliance.open_access_review``: once a day (once per slot across replicas, by the
scheduler's compare-and-set) open an access review when none is open and the newest signed-off
one is older than the 7.2.4 control's frequency (P6M by default)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from compliance.config import ComplianceConfig
from compliance.reviews import open_review_if_due
from core.clock import utcnow
from core.jobs import JobResult, NoArgs, job, schedule

JOB = "compliance.open_access_review"


@job(
    name=JOB,
    args_model=NoArgs,
    timeout=600,
    description="Open an access review (7.2.4) when the last signed-off one is too old.",
)
def open_access_review(session: Session, args: NoArgs) -> JobResult:
    library = ComplianceConfig.from_env().library()
    review = open_review_if_due(session, library, utcnow(), actor=f"job:{JOB}")
    return {"opened": review is not None, "review_id": str(review.id) if review else None}


schedule(JOB, JOB, every=timedelta(days=1), catch_up="latest")
