"""Webhook connectors against real local HTTP servers (uvicorn on loopback): signed calls the
example CRM accepts, retries on 5xx and connect errors, timeouts, bad answers, the address guard,
and the secret sealed (never in a table, an audit entry or a log line)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from compliance.gdpr import connector_service
from compliance.gdpr.connector_models import DsarConnectorConfig
from compliance.gdpr.connectors import registry
from compliance.gdpr.connectors.base import ConnectorOutcome, RequestType
from compliance.gdpr.connectors.webhook import WebhookConnector, sign
from core.audit.models import AuditEntry
from core.database import unit_of_work
from core.settings import Settings, get_settings
from examples.dsar_connector.app import create_app
from examples.dsar_connector.crm import Crm, Customer
from tests.compliance.gdpr.connectors.conftest import EMAIL, request_for
from tests.compliance.gdpr.connectors.conftest import Customer as VaultCustomer
from tests.fixtures.local_apps import serve_app
from tests.interop.conftest import free_port

SECRET = "crm-webhook-secret-0123456789abcdef"
SUBJECT = "customer-42"


@pytest.fixture
def allow_private(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("RAMPART_GDPR_ALLOW_PRIVATE_NETWORKS", "true")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def crm() -> Crm:
    crm = Crm()
    crm.add(Customer(SUBJECT, "Ada Lovelace", EMAIL, "+44 20 7946 0001", notes=["vip"]), 2)
    return crm


@pytest.fixture
def crm_url(crm: Crm) -> Iterator[str]:
    with serve_app(create_app(SECRET, crm)) as base:
        yield f"{base}/rampart/dsar"


def _configure(
    sessions: sessionmaker[Session],
    url: str,
    *,
    secret: str = SECRET,
    name: str = "crm",
    timeout: float = 5.0,
) -> None:
    with unit_of_work(sessions) as session:
        connector_service.create_webhook(
            session,
            name=name,
            url=url,
            types=["access", "erasure", "rectification", "restriction", "objection"],
            secret=secret,
            timeout_seconds=timeout,
            actor="user:officer",
        )


def _fulfil(sessions: sessionmaker[Session], kind: RequestType, **changes: str) -> ConnectorOutcome:
    with unit_of_work(sessions) as session:
        (connector,) = [c for c in registry.connectors_for(session) if c.name == "crm"]
        assert isinstance(connector, WebhookConnector)
        return connector.fulfil(session, request_for(SUBJECT, kind, **changes))


def test_the_example_crm_answers_signed_access_and_erasure_with_its_legal_hold(
    sessions: sessionmaker[Session], allow_private: None, crm: Crm, crm_url: str
) -> None:
    _configure(sessions, crm_url)
    access = _fulfil(sessions, "access")
    assert access.status == "done" and access.method == "exported"
    names = [d.name for d in access.datasets]
    assert names == ["customers", "notes", "invoices"]
    assert access.datasets[0].records[0]["email"] == EMAIL
    assert access.info is not None and "customer service" in access.info.purposes

    erased = _fulfil(sessions, "erasure")
    assert (erased.status, erased.method, erased.rows_affected) == ("done", "deleted", 2)
    assert [h.retention for h in erased.holds] == ["P10Y"]
    assert SUBJECT not in crm.customers and len(crm.invoices_of(SUBJECT)) == 2
    again = _fulfil(sessions, "erasure")  # idempotent
    assert again.status == "done" and again.rows_affected == 0


def test_rectification_restriction_and_objection_reach_the_crm(
    sessions: sessionmaker[Session], allow_private: None, crm: Crm, crm_url: str
) -> None:
    _configure(sessions, crm_url)
    fixed = _fulfil(sessions, "rectification", name="Ada King", shoe_size="38")
    assert (fixed.status, fixed.method) == ("done", "rectified")
    assert crm.customers[SUBJECT].name == "Ada King"
    assert _fulfil(sessions, "restriction").method == "restricted"
    assert crm.customers[SUBJECT].restricted
    assert _fulfil(sessions, "objection").method == "objection-recorded"
    assert not crm.customers[SUBJECT].marketing


def test_a_wrong_secret_is_refused_by_the_service_and_fails_cleanly(
    sessions: sessionmaker[Session], allow_private: None, crm: Crm, crm_url: str
) -> None:
    _configure(sessions, crm_url, secret="not-the-crm-secret-at-all-0000")
    outcome = _fulfil(sessions, "erasure")
    assert (outcome.status, outcome.detail) == ("failed", "the service answered HTTP 401")
    assert SUBJECT in crm.customers


@dataclass
class Flaky:
    """A webhook that fails ``failures`` times with ``status``, then answers ``answer``."""

    failures: int = 0
    status: int = 503
    delay: float = 0.0
    answer: bytes = b'{"status": "done", "rows_affected": 3, "method": "deleted"}'
    answer_status: int = 200
    calls: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            self.calls.append(
                {
                    "signature": request.headers.get("rampart-signature"),
                    "body": await request.body(),
                }
            )
            if self.delay:
                time.sleep(self.delay)
            if len(self.calls) <= self.failures:
                return JSONResponse({"error": "down"}, status_code=self.status)
            return Response(self.answer, status_code=self.answer_status,
                            media_type="application/json")  # fmt: skip

        return app


def _with(flaky: Flaky, sessions: sessionmaker[Session], timeout: float = 5.0) -> Iterator[str]:
    with serve_app(flaky.app()) as base:
        _configure(sessions, f"{base}/hook", timeout=timeout)
        yield base


def test_5xx_is_retried_with_a_fresh_signature_then_succeeds(
    sessions: sessionmaker[Session], allow_private: None
) -> None:
    flaky = Flaky(failures=2)
    for _ in _with(flaky, sessions):
        outcome = _fulfil(sessions, "erasure")
    assert (outcome.status, outcome.rows_affected) == ("done", 3)
    assert len(flaky.calls) == 3
    body = flaky.calls[0]["body"]
    document = json.loads(body)
    assert document["protocol"] == "rampart.dsar/1" and document["subject"] == SUBJECT
    assert document["type"] == "erasure" and document["email"] == EMAIL
    t = int(flaky.calls[0]["signature"].split(",")[0].removeprefix("t="))
    assert flaky.calls[0]["signature"] == sign(SECRET.encode(), body, t)


def test_5xx_three_times_is_failed_with_a_clean_detail(
    sessions: sessionmaker[Session], allow_private: None
) -> None:
    flaky = Flaky(failures=10, status=502)
    for _ in _with(flaky, sessions):
        outcome = _fulfil(sessions, "erasure")
    assert outcome.status == "failed"
    assert outcome.detail == "the service answered HTTP 502 after 3 tries"
    assert len(flaky.calls) == 3


def test_4xx_is_not_retried_and_202_is_pending(
    sessions: sessionmaker[Session], allow_private: None
) -> None:
    flaky = Flaky(failures=1, status=404)
    for _ in _with(flaky, sessions):
        assert _fulfil(sessions, "erasure").detail == "the service answered HTTP 404"
    assert len(flaky.calls) == 1
    with unit_of_work(sessions) as session:
        connector_service.delete_connector(session, "crm")
    accepted = Flaky(answer=b"", answer_status=202)
    for _ in _with(accepted, sessions):
        outcome = _fulfil(sessions, "erasure")
    assert outcome.status == "pending"


def test_a_slow_service_times_out_without_retry(
    sessions: sessionmaker[Session], allow_private: None
) -> None:
    flaky = Flaky(delay=1.5)
    for _ in _with(flaky, sessions, timeout=0.3):
        started = time.monotonic()
        outcome = _fulfil(sessions, "erasure")
        elapsed = time.monotonic() - started
    assert (outcome.status, outcome.detail) == ("failed", "no answer within 0.3 s")
    assert len(flaky.calls) == 1 and elapsed < 1.4


def test_a_closed_port_is_retried_then_failed(
    sessions: sessionmaker[Session], allow_private: None
) -> None:
    _configure(sessions, f"http://127.0.0.1:{free_port()}/hook")
    outcome = _fulfil(sessions, "erasure")
    assert outcome.status == "failed"
    assert outcome.detail == "could not connect (ConnectError) after 3 tries"


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        (b"<html>oops</html>", "the answer is not JSON"),
        (b'{"status": "erased"}', "the answer breaks rampart.dsar/1: status: literal_error"),
        (
            b'{"status": "done", "rows_affected": "3", "extra": "ada.lovelace@example.org"}',
            "the answer breaks rampart.dsar/1: rows_affected: int_type; extra: extra_forbidden",
        ),
        (
            b'{"status": "done", "datasets": [{"name": "x", '
            b'"records": "ada.lovelace@example.org"}]}',
            "the answer breaks rampart.dsar/1: datasets.0.records: list_type",
        ),
    ],
)
def test_bad_answers_fail_with_a_detail_holding_no_value(
    sessions: sessionmaker[Session], allow_private: None, answer: bytes, detail: str
) -> None:
    flaky = Flaky(answer=answer)
    for _ in _with(flaky, sessions):
        outcome = _fulfil(sessions, "erasure")
    assert (outcome.status, outcome.detail) == ("failed", detail)
    assert EMAIL not in outcome.detail and SECRET not in outcome.detail


def test_the_address_guard_refuses_loopback_and_http_unless_the_setting_allows_them(
    sessions: sessionmaker[Session], crm: Crm, crm_url: str
) -> None:
    assert not get_settings().gdpr_allow_private_networks
    _configure(sessions, crm_url)
    plain = _fulfil(sessions, "erasure")
    assert plain.status == "failed" and "must use https" in plain.detail
    with unit_of_work(sessions) as session:
        connector_service.update_connector(
            session, "crm", url=crm_url.replace("http://", "https://")
        )
    outcome = _fulfil(sessions, "erasure")
    assert outcome.status == "failed"
    assert "loopback" in outcome.detail and "RAMPART_GDPR_ALLOW_PRIVATE_NETWORKS" in outcome.detail
    assert SUBJECT in crm.customers


def test_link_local_stays_refused_even_when_private_networks_are_allowed(
    sessions: sessionmaker[Session], allow_private: None
) -> None:
    _configure(sessions, "http://169.254.169.254/latest/")
    outcome = _fulfil(sessions, "erasure")
    assert outcome.status == "failed" and "link-local" in outcome.detail


def test_the_secret_is_sealed_and_never_in_tables_audit_or_logs(
    sessions: sessionmaker[Session],
    allow_private: None,
    crm_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    _configure(sessions, crm_url)
    assert _fulfil(sessions, "access").status == "done"
    with unit_of_work(sessions) as session:
        rotated = connector_service.rotate_secret(session, "crm")
        row = session.scalars(select(DsarConnectorConfig)).one()
        assert connector_service.secret_of(session, row) == rotated.encode()
        assert connector_service.view(row).describe()["has_secret"] is True
        dump = json.dumps(
            [
                [str(v) for v in r]
                for table in ("gdpr_connectors", "audit_entries", "data_keys")
                for r in session.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
            ]
        )
        events = [e.event_type for e in session.scalars(select(AuditEntry))]
    for secret in (SECRET, rotated):
        assert secret not in dump
        assert secret not in caplog.text
        assert secret.encode().hex() not in dump
    assert "gdpr.connector_created" in events and "gdpr.connector_secret_rotated" in events


def test_an_erasure_through_the_workflow_reaches_the_builtins_and_the_example_crm(
    settings: Settings,
    sessions: sessionmaker[Session],
    allow_private: None,
    customer: VaultCustomer,
) -> None:
    from compliance.gdpr import decisions, service, workflow
    from compliance.gdpr.connectors.base import SubjectRef
    from compliance.gdpr.models import DsarOutcome

    crm = Crm()
    crm.add(Customer(customer.subject, "Ada Lovelace", EMAIL, "+44 20 7946 0001"), 1)
    with serve_app(create_app(SECRET, crm)) as base:
        _configure(sessions, f"{base}/rampart/dsar")
        with unit_of_work(sessions) as session:
            request = service.file_request(
                session,
                type="erasure",
                subject=SubjectRef(customer.subject, EMAIL),
                channel="officer",
                actor="user:officer",
                identity_verified=True,
            )
            decisions.start(session, request.id, actor="user:officer")
            decisions.approve(session, request.id, actor="user:officer")
        assert workflow.process_request(request.id) == "completed"
    assert customer.subject not in crm.customers and len(crm.invoices) == 1
    with unit_of_work(sessions) as session:
        outcomes = {
            o.connector: o
            for o in session.scalars(
                select(DsarOutcome).where(DsarOutcome.request_id == request.id)
            )
        }
        certificate = json.loads(
            service.certificate_of(session, request.id, subject=None).certificate_json
        )
    assert outcomes["rampart.vault"].status == "done"
    assert outcomes["rampart.iam"].status == "done"
    assert (outcomes["crm"].status, outcomes["crm"].method) == ("done", "deleted")
    assert "P10Y" in outcomes["crm"].holds
    assert "crm" in json.dumps(certificate)
