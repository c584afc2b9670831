"""Shared pieces of the job-system tests: sample jobs loaded, quick timings, polling helpers."""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.database import unit_of_work
from core.jobs import JobsConfig, load_job_modules
from core.jobs.models import JobRun
from core.kms.keyfile import create_local_key_file
from core.settings import Settings

load_job_modules(["tests.core.jobs.sample_jobs"])

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def jobs_config() -> JobsConfig:
    return JobsConfig(
        poll_seconds=0.05,
        lease_seconds=2.0,
        max_scheduler_sleep=0.2,
        alert_after_failures=2,
        metrics_refresh_seconds=0.01,
    )


@pytest.fixture
def key_file(settings: Settings) -> Path:
    """The local key file the built-in audit.checkpoint job signs with."""
    path = settings.resolved_local_key_file
    create_local_key_file(path)
    return path


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def run_row(run_id: uuid.UUID) -> JobRun:
    with unit_of_work() as session:
        return session.get_one(JobRun, run_id)


def runs_of(job_name: str) -> list[JobRun]:
    with unit_of_work() as session:
        return list(session.scalars(select(JobRun).where(JobRun.job_name == job_name)))


def subprocess_env(**extra: str) -> dict[str, str]:
    """The test's environment (database URL, data dir) plus quick job timings."""
    env = dict(os.environ)
    env.update(
        {
            "RAMPART_JOBS_MODULES": "tests.core.jobs.sample_jobs",
            "RAMPART_JOBS_POLL_SECONDS": "0.05",
            "RAMPART_JOBS_LEASE_SECONDS": "1.5",
            "RAMPART_JOBS_MAX_SCHEDULER_SLEEP": "0.2",
            "PYTHONPATH": str(REPO),
        }
    )
    env.update(extra)
    return env


@pytest.fixture
def processes() -> Iterator[list[Any]]:
    """Subprocesses started by a test; killed at its end whatever happened."""
    started: list[Any] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


PYTHON = sys.executable
