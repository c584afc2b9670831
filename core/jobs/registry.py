"""Declaring jobs and schedules. Everything is checked here, at declaration or enqueue time,
so a bad cron expression, an unknown job or bad arguments never wait until a slot fires."""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.orm import Session

from core.errors import SecretRefused, ValidationFailed
from core.jobs.slots import Timing
from core.sensitive import find_secrets

ArgsT = TypeVar("ArgsT", bound=BaseModel)
JobResult = Mapping[str, Any] | None
JobFunction = Callable[[Session, ArgsT], JobResult]
CatchUp = Literal["none", "latest", "all"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
_QUEUE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class NoArgs(BaseModel):
    """The arguments model of a job that takes none."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True)
class Retry:
    """Attempts and exponential backoff (base * 2**(attempt-1), capped), with full jitter."""

    max_attempts: int = 3
    backoff_base: float = 2.0
    backoff_max: float = 300.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValidationFailed("Retry.max_attempts must be at least 1")
        if self.backoff_base < 0 or self.backoff_max < self.backoff_base:
            raise ValidationFailed("Retry needs 0 <= backoff_base <= backoff_max")

    def delay_after(self, attempt: int) -> float:
        """Seconds to wait before the attempt after ``attempt`` (1-based)."""
        delay = min(self.backoff_max, self.backoff_base * 2 ** max(0, attempt - 1))
        # Jitter spreads retries of many runs so they do not hit a recovering service at once.
        return random.uniform(delay / 2, delay) if self.jitter else delay  # noqa: S311


@dataclass(frozen=True, slots=True)
class JobSpec(Generic[ArgsT]):
    name: str
    function: JobFunction[ArgsT]
    args_model: type[ArgsT]
    timeout: float
    retry: Retry
    queue: str
    idempotency_key: Callable[[ArgsT], str | None] | None
    security_relevant: bool
    description: str

    def validate_args(self, args: Mapping[str, Any] | BaseModel | None) -> ArgsT:
        """The typed arguments, or ValidationFailed naming each bad field (never its value)."""
        if isinstance(args, self.args_model):
            return args
        raw = args.model_dump() if isinstance(args, BaseModel) else dict(args or {})
        try:
            return self.args_model.model_validate(raw)
        except PydanticValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'arguments'}: {error['msg']}"
                for error in exc.errors(include_input=False, include_url=False)
            )
            raise ValidationFailed(f"invalid arguments for job {self.name!r}: {problems}") from None

    def dump_args(self, args: ArgsT) -> dict[str, Any]:
        """JSON-ready arguments; refuses card numbers and secret-named fields, since arguments
        are stored in clear and shown by `rampart jobs runs` (pass references, not secrets)."""
        data = args.model_dump(mode="json")
        paths = find_secrets(data)
        if paths:
            raise SecretRefused(
                f"arguments of job {self.name!r} hold secret-looking values at {', '.join(paths)}"
            )
        return data


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    name: str
    job_name: str
    timing: Timing
    args: dict[str, Any] = field(default_factory=dict)
    catch_up: CatchUp = "latest"


class _Registry:
    def __init__(self) -> None:
        self.jobs: dict[str, JobSpec[Any]] = {}
        self.schedules: dict[str, ScheduleSpec] = {}
        self.lock = threading.Lock()


_registry = _Registry()


def job(
    *,
    name: str,
    args_model: type[ArgsT],
    timeout: float = 300.0,
    retry: Retry | None = None,
    queue: str = "default",
    idempotency_key: Callable[[ArgsT], str | None] | None = None,
    security_relevant: bool = False,
    description: str = "",
) -> Callable[[JobFunction[ArgsT]], JobFunction[ArgsT]]:
    """Declare ``function(session, args)`` as job ``name``. It flushes, never commits: the runner
    commits its work together with the run's completion."""
    if not _NAME.fullmatch(name):
        raise ValidationFailed(f"job name {name!r} must be dotted lower_case words")
    if not _QUEUE.fullmatch(queue):
        raise ValidationFailed(f"queue name {queue!r} must be letters, digits, '-' or '_'")
    if timeout <= 0:
        raise ValidationFailed(f"job {name!r}: timeout must be positive")
    if not (isinstance(args_model, type) and issubclass(args_model, BaseModel)):
        raise ValidationFailed(f"job {name!r}: args_model must be a pydantic model")

    def register(function: JobFunction[ArgsT]) -> JobFunction[ArgsT]:
        spec = JobSpec(
            name=name,
            function=function,
            args_model=args_model,
            timeout=timeout,
            retry=retry or Retry(),
            queue=queue,
            idempotency_key=idempotency_key,
            security_relevant=security_relevant,
            description=description or (function.__doc__ or "").strip().split("\n")[0],
        )
        with _registry.lock:
            known = _registry.jobs.get(name)
            if known is not None and _qualname(known.function) != _qualname(function):
                raise ValidationFailed(f"job {name!r} is already declared by another function")
            _registry.jobs[name] = spec
        return function

    return register


def schedule(
    name: str,
    job_name: str,
    *,
    cron: str | None = None,
    timezone: str = "UTC",
    every: timedelta | None = None,
    args: Mapping[str, Any] | None = None,
    catch_up: CatchUp = "latest",
) -> ScheduleSpec:
    """Declare that ``job_name`` runs with ``args`` on a cron expression in ``timezone`` or
    ``every`` interval. ``catch_up`` decides what happens to slots missed while nothing ran."""
    if not _NAME.fullmatch(name):
        raise ValidationFailed(f"schedule name {name!r} must be dotted lower_case words")
    if catch_up not in ("none", "latest", "all"):
        raise ValidationFailed(f"schedule {name!r}: catch_up must be none, latest or all")
    spec = get_job(job_name)
    timing = Timing(cron=cron, timezone=timezone, every=every)
    checked = spec.dump_args(spec.validate_args(args))
    declared = ScheduleSpec(name, job_name, timing, checked, catch_up)
    with _registry.lock:
        known = _registry.schedules.get(name)
        if known is not None and known != declared:
            raise ValidationFailed(f"schedule {name!r} is already declared differently")
        _registry.schedules[name] = declared
    return declared


def get_job(name: str) -> JobSpec[Any]:
    spec = _registry.jobs.get(name)
    if spec is None:
        raise ValidationFailed(f"unknown job {name!r}")
    return spec


def get_schedule(name: str) -> ScheduleSpec | None:
    return _registry.schedules.get(name)


def all_jobs() -> list[JobSpec[Any]]:
    return sorted(_registry.jobs.values(), key=lambda spec: spec.name)


def all_schedules() -> list[ScheduleSpec]:
    return sorted(_registry.schedules.values(), key=lambda spec: spec.name)


def forget_schedule(name: str) -> None:
    """Drop a declared schedule (tests and code reloads); its database row stays for history."""
    with _registry.lock:
        _registry.schedules.pop(name, None)


def _qualname(function: Callable[..., Any]) -> str:
    return f"{function.__module__}.{function.__qualname__}"
