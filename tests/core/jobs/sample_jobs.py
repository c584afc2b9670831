"""Jobs used by the job-system tests; subprocesses import them via RAMPART_JOBS_MODULES."""

from __future__ import annotations

import os
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from core.audit.service import record_event
from core.jobs import JobResult, NoArgs, Retry, current_run, job


class EchoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: int


@job(name="tests.echo", args_model=EchoArgs, retry=Retry(max_attempts=1))
def echo(session: Session, args: EchoArgs) -> JobResult:
    """Returns its argument and the pid of the process that ran it."""
    return {"value": args.value, "pid": os.getpid()}


class EffectArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    directory: str
    order_ref: str


@job(
    name="tests.blocking_effect",
    args_model=EffectArgs,
    timeout=60,
    retry=Retry(max_attempts=3, backoff_base=0, backoff_max=0),
    idempotency_key=lambda args: f"effect:{args.order_ref}",
)
def blocking_effect(session: Session, args: EffectArgs) -> JobResult:
    """An external side effect keyed by the idempotency key (like a payment API would dedupe),
    then a wait for a release marker so a test can kill the process mid-job."""
    directory = Path(args.directory)
    run = current_run()
    with (directory / "started.log").open("a") as log:
        log.write(f"{os.getpid()} {run.attempt}\n")
    effects = directory / "effects"
    effects.mkdir(exist_ok=True)
    try:
        # O_EXCL: the external system refuses a second effect with the same key.
        fd = os.open(effects / str(run.idempotency_key), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        os.close(fd)
        with (directory / "effects.log").open("a") as log:
            log.write(f"{os.getpid()}\n")
    except FileExistsError:
        pass
    while not (directory / "release").exists():
        time.sleep(0.05)
    return {"pid": os.getpid()}


class FailArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = "boom"


@job(
    name="tests.fails",
    args_model=FailArgs,
    retry=Retry(max_attempts=2, backoff_base=0, backoff_max=0),
)
def always_fails(session: Session, args: FailArgs) -> JobResult:
    raise RuntimeError(args.message)


@job(name="tests.slow", args_model=NoArgs, timeout=0.3, retry=Retry(max_attempts=1))
def too_slow(session: Session, args: NoArgs) -> JobResult:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.02)
    return {"finished": True}


@job(name="tests.audited", args_model=NoArgs, security_relevant=True)
def audited(session: Session, args: NoArgs) -> JobResult:
    record_event(session, event_type="tests.effect", resource="tests:audited")
    return None


@job(name="tests.tick", args_model=NoArgs, retry=Retry(max_attempts=1))
def tick(session: Session, args: NoArgs) -> JobResult:
    return {"pid": os.getpid()}
