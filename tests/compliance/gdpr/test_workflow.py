"""Processing with connectors defined here (implementing the Protocol): pending is asked again,
completion signs a certificate and stores a package."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.gdpr import decisions, service, workflow
from compliance.gdpr.connectors import registry
from compliance.gdpr.connectors.base import (
    Connector,
    ConnectorOutcome,
    ConnectorRequest,
    Dataset,
    LegalHold,
    RequestType,
    SubjectRef,
)
from compliance.gdpr.models import DsarOutcome
from core.database import unit_of_work
from core.settings import Settings


@dataclass
class Shop:
    name: str = "shop"
    pending_first: bool = False
    calls: list[str] = field(default_factory=list)

    def supports(self, request_type: RequestType) -> bool:
        return True

    def fulfil(self, session: Session, request: ConnectorRequest) -> ConnectorOutcome:
        self.calls.append(str(request.request_id))
        if self.pending_first and len(self.calls) == 1:
            return ConnectorOutcome(self.name, "pending", detail="manual task opened")
        records = ({"order": 1, "note": "<b>x</b>"},)
        return ConnectorOutcome(self.name, "done", 1, "exported", (Dataset("orders", records),))


def test_pending_is_asked_again_then_the_request_completes(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop, crm = Shop(), Shop(name="crm", pending_first=True)
    connectors: list[Connector] = [shop, crm]
    monkeypatch.setattr(registry, "connectors_for", lambda session: connectors)
    with unit_of_work() as db:
        request = service.file_request(
            db,
            type="access",
            subject=SubjectRef("c1", "c1@shop.example"),
            channel="api",
            actor="client:shop",
            identity_verified=True,
        )
        decisions.start(db, request.id, actor="user:o")
        request_id = request.id
    assert workflow.process_request(request_id) == "in_progress"
    assert workflow.process_request(request_id) == "completed"
    assert len(shop.calls) == 1 and len(crm.calls) == 2
    with unit_of_work(read_only=True) as db:
        assert service.certificate_of(db, request_id, subject="c1").signature
        assert service.get_request(db, request_id).package_sha256
        package = service.read_package(db, request_id)
        outcomes = db.scalars(select(DsarOutcome).where(DsarOutcome.request_id == request_id))
        assert all(o.datasets_sealed is None and o.datasets_key_id is None for o in outcomes)
    # The shop answered on the first run, the CRM on the second: both are in the package.
    with zipfile.ZipFile(io.BytesIO(package.content)) as archive:
        assert sorted(archive.namelist()) == [
            "crm/orders.csv",
            "crm/orders.json",
            "information.json",
            "manifest.json",
            "shop/orders.csv",
            "shop/orders.json",
            "summary.html",
        ]
        assert json.loads(archive.read("shop/orders.json"))[0]["order"] == 1


def test_completion_is_signed_evidence_of_art_12_3_without_the_subject(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from compliance.evidence import canonical_evidence, signed_message
    from compliance.models import EvidenceRecord
    from compliance.verification import verify_evidence
    from core.kms.provider import get_key_provider

    subject = "customer-4711"
    connectors: list[Connector] = [Shop(), Shop(name="crm")]
    monkeypatch.setattr(registry, "connectors_for", lambda session: connectors)
    with unit_of_work() as db:
        request = service.file_request(
            db,
            type="access",
            subject=SubjectRef(subject, "c4711@shop.example"),
            channel="api",
            actor="client:shop",
            identity_verified=True,
        )
        decisions.start(db, request.id, actor="user:o")
        request_id = request.id
    assert workflow.process_request(request_id) == "completed"
    with unit_of_work(read_only=True) as db:
        request = service.get_request(db, request_id)
        assert request.evidence_id is not None
        record = db.get(EvidenceRecord, request.evidence_id)
        assert record is not None
        certificate = service.certificate_of(db, request_id, subject=None)
        assert record.check_id == "gdpr.dsar_completions"
        assert json.loads(record.control_ids) == ["gdpr:art-12.3"]
        assert record.status == "pass" and record.target == f"gdpr/requests/{request_id}"
        observed = json.loads(record.observed)
        facts = observed["request"]
        assert facts["request_id"] == str(request_id) and facts["type"] == "access"
        assert [s["connector"] for s in facts["systems"]] == ["crm", "shop"]
        assert facts["rows"] == 2 and facts["on_time"] is True
        assert facts["package_sha256"] == request.package_sha256
        assert (
            facts["certificate_sha256"] == hashlib.sha256(certificate.certificate_json).hexdigest()
        )
        assert observed["completed_last_31_days"] == 1
        canonical = canonical_evidence(record)
        assert subject not in canonical.decode() and "c4711@" not in canonical.decode()
        signer = get_key_provider()
        assert verify_evidence(db, [signer.public_signing_key()]).problems == []
        assert signed_message(canonical).startswith(b"rampart-evidence/v1|")


@dataclass
class Invoicing:
    """Erases what it may and keeps invoices under a legal hold."""

    name: str = "invoicing"

    def supports(self, request_type: RequestType) -> bool:
        return True

    def fulfil(self, session: Session, request: ConnectorRequest) -> ConnectorOutcome:
        hold = LegalHold("invoices", "HGB §257: commercial records kept 10 years", "P10Y")
        return ConnectorOutcome(self.name, "done", 2, "anonymised", holds=(hold,))


def test_the_erasure_certificate_lists_each_systems_legal_holds(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    connectors: list[Connector] = [Invoicing()]
    monkeypatch.setattr(registry, "connectors_for", lambda session: connectors)
    with unit_of_work() as db:
        request = service.file_request(
            db,
            type="erasure",
            subject=SubjectRef("c5", None),
            channel="officer",
            actor="user:o",
            identity_verified=True,
        )
        decisions.start(db, request.id, actor="user:o")
        request_id = request.id
    state = workflow.process_request(request_id)
    if state == "awaiting_approval":
        with unit_of_work() as db:
            decisions.approve(db, request_id, actor="user:o2")
        state = workflow.process_request(request_id)
    assert state == "completed"
    with unit_of_work(read_only=True) as db:
        document = json.loads(service.certificate_of(db, request_id, subject=None).certificate_json)
    (system,) = document["systems"]
    assert system["holds"] == [
        {
            "what": "invoices",
            "legal_basis": "HGB §257: commercial records kept 10 years",
            "retention": "P10Y",
        }
    ]
