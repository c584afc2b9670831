"""Errors of the job runner.

BaseException
 └── JobTimeout        raised inside a job's thread when it outlives its timeout
RampartError
 └── LeaseLost         the run was taken over (lease expired) before it finished
"""

from __future__ import annotations

from core.errors import RampartError


class JobTimeout(BaseException):
    """A BaseException so that a job's broad ``except Exception`` cannot swallow it."""


class LeaseLost(RampartError):
    slug, title = "job-lease-lost", "The run was taken over by another worker"
