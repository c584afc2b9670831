"""A control turning failing: one audit entry and one HMAC-signed webhook, delivered by a job
with retries to a real HTTP receiver, every attempt in the delivery log."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from compliance.checks.base import CheckContext, CheckResult
from compliance.controls import ControlLibrary
from compliance.engine import EngineDeps, Scope, run
from compliance.models import AlertDelivery
from core.audit.models import AuditEntry
from core.clock import utcnow
from core.database import unit_of_work
from core.jobs import JobsConfig, JobsRuntime
from core.settings import get_settings
from tests.compliance.conftest import Register
from tests.core.jobs.conftest import wait_for

SECRET = "drift-webhook-test-key"


class Receiver:
    """A local webhook endpoint answering the queued status codes (then 200)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                self.send_response(receiver.answers.pop(0) if receiver.answers else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/rampart"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    served = Receiver()
    served.thread.start()
    monkeypatch.setenv("RAMPART_COMPLIANCE_WEBHOOK_URL", served.url)
    monkeypatch.setenv("RAMPART_COMPLIANCE_WEBHOOK_SECRET", SECRET)
    get_settings.cache_clear()  # settings are read once per process
    yield served
    served.server.shutdown()
    served.server.server_close()


@pytest.fixture
def workers(deps: EngineDeps) -> Iterator[JobsRuntime]:
    config = JobsConfig(poll_seconds=0.05, lease_seconds=5.0, max_scheduler_sleep=0.2)
    running = JobsRuntime(config, scheduler=False, workers=True, concurrency=1).start()
    yield running
    running.stop(timeout=5)


@pytest.fixture
def lockout(register: Register) -> dict[str, bool]:
    """``tests.passes`` (control test-fw:1.1) passes while ``setting['strong']`` holds."""
    setting = {"strong": True}

    def probe(ctx: CheckContext) -> CheckResult:
        threshold = 6 if setting["strong"] else 50
        return CheckResult.judge(threshold <= 10, {"threshold": threshold}, {"max": 10})

    register("tests.passes", probe, ("test-fw:1.1",))
    return setting


def _deliveries() -> list[AlertDelivery]:
    with unit_of_work() as session:
        return list(session.scalars(select(AlertDelivery)))


def _failing_entries() -> list[dict[str, Any]]:
    with unit_of_work() as session:
        query = select(AuditEntry.details).where(
            AuditEntry.event_type == "compliance.control_failing"
        )
        return [orjson.loads(details) for details in session.scalars(query)]


def test_a_control_turning_failing_fires_one_signed_webhook(
    deps: EngineDeps,
    library: ControlLibrary,
    lockout: dict[str, bool],
    receiver: Receiver,
    workers: JobsRuntime,
) -> None:
    run(deps, library, Scope(control="test-fw:1.1"))  # baseline: pass, nothing sent
    run(deps, library, Scope(control="test-fw:1.1"))
    assert _deliveries() == [] and _failing_entries() == []

    lockout["strong"] = False
    run(deps, library, Scope(control="test-fw:1.1"))
    (entry,) = _failing_entries()
    assert (entry["control"], entry["previous"]) == ("test-fw:1.1", "pass")
    wait_for(lambda: receiver.requests, 10, "the webhook")
    ((headers, body),) = receiver.requests
    timestamp = headers["X-Rampart-Timestamp"]
    assert abs(int(timestamp) - utcnow().timestamp()) < 60
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(headers["X-Rampart-Signature"], "sha256=" + expected.hexdigest())
    alert = orjson.loads(body)
    assert (alert["control"], alert["status"], alert["previous"]) == (
        "test-fw:1.1",
        "failing",
        "pass",
    )
    wait_for(lambda: _deliveries()[0].status == "delivered", 10, "the delivery log")

    run(deps, library, Scope(control="test-fw:1.1"))  # still failing: no second alert
    assert len(_failing_entries()) == 1 and len(_deliveries()) == 1


def test_a_refusing_receiver_is_retried_with_backoff_and_logged(
    deps: EngineDeps,
    library: ControlLibrary,
    lockout: dict[str, bool],
    receiver: Receiver,
    workers: JobsRuntime,
) -> None:
    receiver.answers = [503]
    run(deps, library, Scope(control="test-fw:1.1"))
    lockout["strong"] = False
    run(deps, library, Scope(control="test-fw:1.1"))
    wait_for(lambda: _deliveries()[0].attempts == 1, 30, "the first attempt")
    (first,) = _deliveries()
    assert (first.status, first.last_status_code) == ("pending", 503)
    wait_for(lambda: _deliveries()[0].status == "delivered", 30, "the retry")
    (delivered,) = _deliveries()
    assert (delivered.attempts, delivered.last_status_code) == (2, 200)
    assert len(receiver.requests) == 2
