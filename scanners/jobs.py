"""Scans on the jobs scheduler: ``scanners.scan`` runs one queued scan (the API's "start scan");
``scanners.expire_acceptances`` reopens accepted risks whose expiry passed, daily;
``scanners.schedule_due`` starts the scans of targets whose own schedule is due, every minute
(the jobs' slot compare-and-set fires it once per minute across replicas, and a compare-and-set
on each target's ``last_scheduled_at`` keeps even two concurrent runs to one scan per slot).

A run that dies with its worker is retried once when its lease expires (docs/jobs.md): the scan,
still ``running``, starts again from the beginning (see scanners/runner.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from core.jobs import JobResult, NoArgs, Retry, job, schedule
from scanners import findings
from scanners.runner import execute_scan, start_scheduled_scans

SCAN_TIMEOUT = 3600.0


class ScanArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scan_id: uuid.UUID


@job(
    name="scanners.scan",
    args_model=ScanArgs,
    timeout=SCAN_TIMEOUT,
    retry=Retry(max_attempts=2, backoff_base=30, backoff_max=300),
    security_relevant=True,
    description="Run one queued scan of a registered target to completion.",
)
def run_scan(session: Session, args: ScanArgs) -> JobResult:
    # The scan commits its own progress and outcome; the runner's session stays untouched.
    result = execute_scan(args.scan_id)
    return {"scan_id": result["id"], "status": result["status"], "findings": result["findings"]}


@job(
    name="scanners.expire_acceptances",
    args_model=NoArgs,
    timeout=300,
    description="Reopen findings whose accepted risk expired.",
)
def expire_acceptances(session: Session, args: NoArgs) -> JobResult:
    return {"reopened": findings.expire_acceptances(session)}


schedule("scanners.expire_acceptances", "scanners.expire_acceptances", cron="15 2 * * *")


@job(
    name="scanners.schedule_due",
    args_model=NoArgs,
    timeout=120,
    # Each scan it starts (or skips) is audited on its own; a job.run entry every minute for
    # the mostly idle ticks would only bury them.
    description="Start a scan of every target whose schedule is due.",
)
def schedule_due(session: Session, args: NoArgs) -> JobResult:
    started = start_scheduled_scans(session)
    return {"started": len(started), "scans": [str(scan.id) for scan in started]}


schedule("scanners.schedule_due", "scanners.schedule_due", every=timedelta(minutes=1))
