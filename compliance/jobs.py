"""Compliance work on the jobs scheduler: ``compliance.run_due`` every 15 minutes runs the checks
whose evidence is about to go stale (once per slot across replicas, the newest missed slot caught
up after a restart); ``compliance.run`` is a manual run of a scope (API "run now");
``compliance.remediate`` runs one approved or automatic remediation (compliance/remediation.py)."""

from __future__ import annotations

import uuid

import httpx
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from compliance.config import ComplianceConfig
from compliance.drift import SIGNATURE_HEADER, TIMESTAMP_HEADER, alert_signature
from compliance.due import TICK, due_checks
from compliance.engine import RunResult, Scope, default_deps, run
from compliance.exceptions import AlertNotDelivered
from compliance.models import AlertDelivery
from core.clock import utcnow
from core.database import unit_of_work
from core.jobs import JobResult, NoArgs, Retry, current_run, job, schedule

# Each result commits on its own (the engine is its own boundary), so the runner's session is
# left untouched: on SQLite it then never holds the write lock while the checks run.
_TIMEOUT = 3600.0


class RunScopeArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    framework: str | None = Field(default=None, max_length=100)
    control: str | None = Field(default=None, max_length=200)
    triggered_by: str = Field(default="system", max_length=255)


@job(
    name="compliance.run_due",
    args_model=NoArgs,
    timeout=_TIMEOUT,
    retry=Retry(max_attempts=2, backoff_base=60, backoff_max=600),
    description="Run the compliance checks whose evidence is due (every control at its frequency).",
)
def run_due(session: Session, args: NoArgs) -> JobResult:
    library = ComplianceConfig.from_env().library()
    deps = default_deps()
    with unit_of_work(deps.read_sessions, read_only=True) as reading:
        checks = due_checks(reading, library, utcnow())
    results = run(deps, library, Scope(), triggered_by="job:compliance.run_due", checks=checks)
    return _summary(results)


@job(
    name="compliance.run",
    args_model=RunScopeArgs,
    timeout=_TIMEOUT,
    description="Run the compliance checks of a framework, a control or all, now.",
)
def run_scope(session: Session, args: RunScopeArgs) -> JobResult:
    library = ComplianceConfig.from_env().library()
    scope = Scope(framework=args.framework, control=args.control)
    results = run(default_deps(), library, scope, triggered_by=args.triggered_by)
    return _summary(results)


def _summary(results: list[RunResult]) -> JobResult:
    statuses = [item.status for item in results]
    return {
        "results": len(statuses),
        "failed": statuses.count("fail"),
        "errors": statuses.count("error"),
    }


schedule("compliance.run_due", "compliance.run_due", every=TICK, catch_up="latest")


class DeliverAlertArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delivery_id: uuid.UUID


_ALERT_RETRY = Retry(max_attempts=8, backoff_base=2, backoff_max=600)


@job(
    name="compliance.deliver_alert",
    args_model=DeliverAlertArgs,
    timeout=60,
    retry=_ALERT_RETRY,
    description="POST one signed drift alert; retried with exponential backoff until delivered.",
)
def deliver_alert(session: Session, args: DeliverAlertArgs) -> JobResult:
    # Read and log in transactions of its own, the runner's left untouched: a failed attempt
    # must stay in the log although the run's transaction rolls back, and on SQLite a second
    # writer beside the runner's would wait for its lock.
    with unit_of_work(read_only=True) as reading:
        delivery = reading.get(AlertDelivery, args.delivery_id)
    if delivery is None or delivery.status == "delivered":
        return {"delivered": False}
    code, error = _post(delivery, ComplianceConfig.from_env())
    attempt = current_run().attempt
    with unit_of_work() as writing:
        logged = writing.get_one(AlertDelivery, delivery.id)
        logged.attempts, logged.last_status_code, logged.last_error = attempt, code, error
        if error is None:
            logged.status, logged.delivered_at = "delivered", utcnow()
        else:
            logged.status = "failed" if attempt >= _ALERT_RETRY.max_attempts else "pending"
    if error is not None:
        raise AlertNotDelivered(f"alert {delivery.id} not delivered: {error}")
    return {"delivered": True, "status_code": code}


def _post(delivery: AlertDelivery, config: ComplianceConfig) -> tuple[int | None, str | None]:
    secret = config.webhook_secret.get_secret_value() if config.webhook_secret else ""
    if not secret:
        return None, "no webhook secret configured (RAMPART_COMPLIANCE_WEBHOOK_SECRET)"
    body = delivery.body.encode()
    timestamp = str(int(utcnow().timestamp()))
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: alert_signature(secret, timestamp, body),
    }
    try:
        response = httpx.post(delivery.url, content=body, headers=headers, timeout=10.0)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}"
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"receiver answered {response.status_code}"


class RemediateArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    remediation_id: uuid.UUID


@job(
    name="compliance.remediate",
    args_model=RemediateArgs,
    timeout=600,
    # One attempt: a failed remediation is rolled back and recorded as failed; the next failing
    # run proposes it again rather than the job retrying a fix that just failed.
    retry=Retry(max_attempts=1),
    security_relevant=True,
    description="Run one approved or automatic remediation of a failing control, once.",
)
def remediate(session: Session, args: RemediateArgs) -> JobResult:
    # Its own transactions (claim, action, outcome), the runner's session untouched: a failure
    # must stay recorded although the action's transaction rolls back.
    from compliance.remediation import execute_remediation
    from core.database import get_sessionmaker
    from core.settings import get_settings

    row = execute_remediation(get_sessionmaker(), get_settings(), args.remediation_id)
    return {"remediation": str(row.id), "status": row.status}
