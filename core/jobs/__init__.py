"""Background jobs and schedules: declare with :func:`job` / :func:`schedule`, enqueue in the
caller's transaction with :func:`enqueue`; run embedded (`rampart serve`) or by `rampart worker`."""

from core.jobs.config import JobsConfig
from core.jobs.queue import enqueue
from core.jobs.registry import (
    JobResult,
    JobSpec,
    NoArgs,
    Retry,
    ScheduleSpec,
    all_jobs,
    all_schedules,
    get_job,
    job,
    schedule,
)
from core.jobs.runner import RunContext, current_run
from core.jobs.runtime import JobsRuntime, load_job_modules, start_embedded, start_worker

__all__ = [
    "JobResult",
    "JobSpec",
    "JobsConfig",
    "JobsRuntime",
    "NoArgs",
    "Retry",
    "RunContext",
    "ScheduleSpec",
    "all_jobs",
    "all_schedules",
    "current_run",
    "enqueue",
    "get_job",
    "job",
    "load_job_modules",
    "schedule",
    "start_embedded",
    "start_worker",
]
