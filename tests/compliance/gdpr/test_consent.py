"""Consent on the real database and ledger: privacy by default, latest decision wins, audit
entries, notice versions, per-purpose counts and the consent connector (access, objection,
erasure keeps proof under a LegalHold)."""

from __future__ import annotations

from uuid import uuid4

import pytest
from sqlalchemy import select

from compliance.gdpr import consent
from compliance.gdpr.connectors.base import Connector, ConnectorRequest, SubjectRef
from compliance.gdpr.connectors.consent import connector
from core.audit.models import AuditEntry
from core.database import unit_of_work
from core.settings import Settings


@pytest.fixture
def seeded(settings: Settings) -> None:
    with unit_of_work() as session:
        consent.seed_default_purposes(session, actor="system")


def _grant(subject: str, purpose: str) -> None:
    with unit_of_work() as session:
        consent.grant_consent(
            session,
            subject=subject,
            purpose=purpose,
            source="portal",
            notice_version="1",
            actor=f"subject:{subject}",
        )


def test_never_decided_is_not_granted_and_latest_wins(seeded: None) -> None:
    with unit_of_work() as session:
        assert not consent.has_consent(session, "u1", "personalize")
    _grant("u1", "personalize")
    with unit_of_work() as session:
        assert consent.has_consent(session, "u1", "personalize")
        consent.withdraw_consent(
            session,
            subject="u1",
            purpose="personalize",
            source="api:shop",
            notice_version="1",
            actor="client:shop",
        )
    with unit_of_work() as session:
        assert not consent.has_consent(session, "u1", "personalize")
        states = {s.purpose: s for s in consent.consents_of(session, "u1")}
        assert set(states) == {"personalize", "marketing.advertising", "analytics"}
        assert states["personalize"].source == "api:shop"
        assert not any(s.granted for s in states.values())
        events = session.scalars(
            select(AuditEntry.event_type).where(AuditEntry.event_type.like("consent.%"))
        ).all()
        assert events.count("consent.granted") == 1
        assert events.count("consent.withdrawn") == 1
        granted, withdrawn, page = consent.subjects_of_purpose(session, "personalize")
        assert (granted, withdrawn, [s for s, _ in page]) == (0, 1, ["u1"])


def test_purposes_are_fideslang_data_uses_and_notice_change_bumps(seeded: None) -> None:
    with unit_of_work() as session:
        keys = [p.key for p in consent.consent_purposes(session)]
        assert keys == ["analytics", "marketing.advertising", "personalize"]
        bumped = consent.upsert_purpose(
            session,
            key="analytics",
            categories=["user.behavior"],
            notice="New text",
            actor="system",
        )
        assert bumped.notice_version == "2"
        with pytest.raises(consent.NotADataUse):
            consent.upsert_purpose(session, key="no.such.use", categories=[], actor="system")


def test_connector_access_objection_erasure(seeded: None) -> None:
    assert isinstance(connector, Connector)
    _grant("u2", "personalize")
    _grant("u2", "analytics")
    subject = SubjectRef("u2")
    with unit_of_work() as session:
        access = connector.fulfil(session, ConnectorRequest(uuid4(), "access", subject))
        assert access.status == "done" and len(access.datasets[0].records) == 2
        objection = connector.fulfil(
            session, ConnectorRequest(uuid4(), "objection", subject, purposes=("analytics",))
        )
        assert objection.rows_affected == 1
        assert consent.has_consent(session, "u2", "personalize")
        assert not consent.has_consent(session, "u2", "analytics")
        request_id = uuid4()
        erasure = connector.fulfil(session, ConnectorRequest(request_id, "erasure", subject))
        assert erasure.status == "done" and erasure.holds
        assert not consent.has_consent(session, "u2", "personalize")
        again = connector.fulfil(session, ConnectorRequest(request_id, "erasure", subject))
        assert again.rows_affected == 0
        assert (
            connector.fulfil(
                session, ConnectorRequest(uuid4(), "access", SubjectRef("nobody"))
            ).status
            == "not_applicable"
        )
