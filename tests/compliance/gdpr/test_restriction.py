"""Restriction (Art. 18) means something: once the iam connector has given the account the
``gdpr_restricted`` role, consent checks answer false for every purpose but the essential ones,
through the service and through the API shop services call before personalising."""

from __future__ import annotations

from collections.abc import Callable
from uuid import uuid4

from fastapi.testclient import TestClient

from compliance.gdpr import consent
from compliance.gdpr.connectors.base import ConnectorRequest, SubjectRef
from compliance.gdpr.connectors.iam import RESTRICTED_ROLE
from compliance.gdpr.connectors.iam import connector as iam_connector
from core.database import unit_of_work
from core.settings import Settings
from tests.policies.authz_support import api, authz_settings, bearer

__all__ = ["api", "authz_settings", "bearer"]  # fixtures used by name

PURPOSES = ("personalize", "marketing.advertising", "essential.service.payment_processing")


def _customer_with_consents() -> str:
    from iam.accounts.service import register_user

    with unit_of_work() as db:
        for key in PURPOSES:
            consent.upsert_purpose(db, key=key, categories=["user.behavior"], actor="system")
        subject = str(register_user(db, "r@shop.example", name="R", roles=["customer"]).id)
        for key in PURPOSES:
            consent.grant_consent(
                db, subject=subject, purpose=key, source="test", notice_version="1", actor="t"
            )
    return subject


def test_a_restricted_subject_is_refused_every_purpose_but_the_essential(
    settings: Settings,
) -> None:
    subject = _customer_with_consents()
    with unit_of_work(read_only=True) as db:
        assert all(consent.has_consent(db, subject, key) for key in PURPOSES)
        assert not consent.is_restricted(db, subject)
    with unit_of_work() as db:
        outcome = iam_connector.fulfil(
            db, ConnectorRequest(uuid4(), "restriction", SubjectRef(subject))
        )
        assert outcome.status == "done" and outcome.method == "restricted"
    with unit_of_work(read_only=True) as db:
        from iam.accounts.service import get_user_by_email

        user = get_user_by_email(db, "r@shop.example")
        assert user is not None and RESTRICTED_ROLE in user.roles
        assert consent.is_restricted(db, subject)
        assert not consent.has_consent(db, subject, "personalize")
        assert not consent.has_consent(db, subject, "marketing.advertising")
        assert consent.has_consent(db, subject, "essential.service.payment_processing")
        # The records are kept (restriction is not erasure): the history still shows grants.
        assert all(r.granted for r in consent.history_of(db, subject))


def test_subjects_without_an_account_are_not_restricted(settings: Settings) -> None:
    with unit_of_work(read_only=True) as db:
        assert not consent.is_restricted(db, "demo-customer-x")
        assert not consent.is_restricted(db, str(uuid4()))


def test_the_consent_check_endpoint_answers_false_for_a_restricted_subject(
    api: TestClient, bearer: Callable[..., dict[str, str]]
) -> None:
    subject = _customer_with_consents()
    service = bearer("shop", "g, client:shop, role:service, rampart")

    def granted(purpose: str) -> bool:
        answer = api.get(
            "/v1/consent/check", params={"subject": subject, "purpose": purpose}, headers=service
        )
        assert answer.status_code == 200, answer.text
        return bool(answer.json()["granted"])

    assert granted("personalize") is True
    with unit_of_work() as db:
        iam_connector.fulfil(db, ConnectorRequest(uuid4(), "restriction", SubjectRef(subject)))
    assert granted("personalize") is False
    assert granted("essential.service.payment_processing") is True
