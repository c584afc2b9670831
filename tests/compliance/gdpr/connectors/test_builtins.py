"""The built-in connectors (vault, audit ledger, IAM accounts) against the real database and
local KMS: access copies, rectification, restriction, objection and erasure, each idempotent."""

from __future__ import annotations

import json
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from compliance.gdpr.connectors import registry
from compliance.gdpr.connectors.audit import connector as audit_connector
from compliance.gdpr.connectors.base import Connector, ConnectorOutcome
from compliance.gdpr.connectors.iam import RESTRICTED_ROLE
from compliance.gdpr.connectors.iam import connector as iam_connector
from compliance.gdpr.connectors.vault import connector as vault_connector
from core.audit.models import AuditEntry
from core.database import unit_of_work
from tests.compliance.gdpr.connectors.conftest import (
    ADDRESS,
    EMAIL,
    NAME,
    PAN,
    Customer,
    request_for,
)


def _run(
    sessions: sessionmaker[Session], connector: Connector, subject: str, kind: str, **changes: str
) -> ConnectorOutcome:
    with unit_of_work(sessions) as session:
        return connector.fulfil(session, request_for(subject, kind, **changes))  # type: ignore[arg-type]


def test_builtins_run_vault_audit_then_iam_last() -> None:
    names = [c.name for c in registry.builtin_connectors()]
    assert names[0] == "rampart.vault"
    assert names[1] == "rampart.audit"
    assert names[-1] == "rampart.iam"


def test_vault_access_decrypts_pii_and_masks_the_card(
    sessions: sessionmaker[Session], customer: Customer
) -> None:
    outcome = _run(sessions, vault_connector, customer.subject, "access")
    assert outcome.status == "done" and outcome.rows_affected == 4
    values = {r["type"]: r["value"] for r in outcome.datasets[0].records}
    assert values["email"] == EMAIL and values["name"] == NAME and values["address"] == ADDRESS
    assert values["pan"] == PAN[:6] + "******" + PAN[-4:]
    assert PAN not in json.dumps([dict(r) for r in outcome.datasets[0].records])


def test_vault_erasure_shreds_every_tenant_and_is_idempotent(
    sessions: sessionmaker[Session], customer: Customer
) -> None:
    outcome = _run(sessions, vault_connector, customer.subject, "erasure")
    assert (outcome.status, outcome.method, outcome.rows_affected) == ("done", "crypto-shredded", 4)
    after = _run(sessions, vault_connector, customer.subject, "access")
    assert all(r["value"] is None for r in after.datasets[0].records)
    again = _run(sessions, vault_connector, customer.subject, "erasure")
    assert again.status == "done"


def test_iam_access_lists_account_sessions_and_grants_without_secrets(
    sessions: sessionmaker[Session], customer: Customer
) -> None:
    outcome = _run(sessions, iam_connector, customer.subject, "access")
    assert outcome.status == "done"
    by_name = {d.name: d for d in outcome.datasets}
    (account,) = by_name["account"].records
    assert account["email"] == EMAIL and account["name"] == NAME
    assert "customer" in account["roles"]
    assert len(by_name["login_sessions"].records) == 1
    assert by_name["oauth_grants"].records[0]["client_id"] == "shop-web"
    text = json.dumps([[dict(r) for r in d.records] for d in outcome.datasets])
    assert "hash" not in text and "0" * 64 not in text


def test_iam_rectifies_name_and_email_normalized_and_audited(
    sessions: sessionmaker[Session], customer: Customer
) -> None:
    outcome = _run(
        sessions, iam_connector, customer.subject, "rectification",
        email="  Ada.King@Example.ORG ", name="Ada King",
    )  # fmt: skip
    assert (outcome.status, outcome.rows_affected) == ("done", 2)
    from iam.accounts.service import get_user

    with unit_of_work(sessions) as session:
        user = get_user(session, UUID(customer.subject))
        assert user is not None
        assert (user.email, user.name, user.email_verified) == (
            "ada.king@example.org",
            "Ada King",
            False,
        )
        kinds = session.execute(select(AuditEntry.event_type)).scalars().all()
    assert "iam.user.rectified" in kinds
    refused = _run(sessions, iam_connector, customer.subject, "rectification", phone="1")
    assert refused.status == "failed" and "phone" in refused.detail


def test_iam_restriction_and_objection(sessions: sessionmaker[Session], customer: Customer) -> None:
    assert _run(sessions, iam_connector, customer.subject, "restriction").method == "restricted"
    assert _run(sessions, iam_connector, customer.subject, "restriction").status == "done"
    from iam.accounts.service import get_user

    with unit_of_work(sessions) as session:
        user = get_user(session, UUID(customer.subject))
        assert user is not None and RESTRICTED_ROLE in user.roles
    objection = _run(sessions, iam_connector, customer.subject, "objection")
    assert objection.method == "objection-recorded"


def test_iam_erasure_revokes_and_deletes_the_account(
    sessions: sessionmaker[Session], customer: Customer
) -> None:
    from iam.oauth2.models import RefreshFamily
    from iam.sessions.models import LoginSession

    outcome = _run(sessions, iam_connector, customer.subject, "erasure")
    assert (outcome.status, outcome.method) == ("done", "deleted")
    with unit_of_work(sessions) as session:
        uid = UUID(customer.subject)
        assert session.scalars(select(LoginSession).where(LoginSession.user_id == uid)).all() == []
        assert (
            session.scalars(select(RefreshFamily).where(RefreshFamily.user_id == uid)).all() == []
        )
        kinds = session.execute(select(AuditEntry.event_type)).scalars().all()
    assert "iam.user.disabled" in kinds and "iam.user.deleted" in kinds
    assert _run(sessions, iam_connector, customer.subject, "erasure").status == "done"
    assert _run(sessions, iam_connector, customer.subject, "access").status == "not_applicable"


def test_audit_keeps_entries_under_hold_and_names_the_subject_only_by_id(
    sessions: sessionmaker[Session], customer: Customer
) -> None:
    access = _run(sessions, audit_connector, customer.subject, "access")
    assert access.status == "done" and access.rows_affected >= 1
    assert {"occurred_at", "event_type", "outcome"} == set(access.datasets[0].records[0])
    for connector in registry.builtin_connectors():
        _run(sessions, connector, customer.subject, "erasure")
    erasure = _run(sessions, audit_connector, customer.subject, "erasure")
    assert erasure.method == "pseudonymised"
    assert "10.5.1" in erasure.holds[0].legal_basis
    with unit_of_work(sessions) as session:
        rows = session.execute(
            select(AuditEntry.actor, AuditEntry.resource, AuditEntry.details)
        ).all()
    ledger = json.dumps([list(r) for r in rows]).lower()
    for identifier in (EMAIL, NAME.lower(), ADDRESS.lower(), "ada.lovelace"):
        assert identifier not in ledger
