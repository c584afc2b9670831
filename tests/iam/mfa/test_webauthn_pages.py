"""WebAuthn endpoints: options need the session and the CSRF header; a forged credential is
refused, spends the challenge and stores nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.settings import Settings
from iam.mfa.models import WebAuthnCredential
from iam.sessions.models import LoginSession
from tests.iam.accounts.support import PASSWORD, make_user
from tests.iam.pages.support import login


@pytest.fixture
def client(iam_settings: Settings) -> Iterator[TestClient]:
    from server.app import create_app

    with TestClient(create_app(iam_settings)) as test_client:
        yield test_client


def _csrf(client: TestClient) -> str:
    page = client.get("/account/totp?next=/account")
    text: str = page.text
    return text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]


def test_registration_options_and_a_forged_credential(client: TestClient, db: Session) -> None:
    make_user(db, "root@example.com", roles=["admin"])
    login(client, "root@example.com", PASSWORD)
    assert client.post("/account/webauthn/options").status_code == 403  # no CSRF header
    token = _csrf(client)
    response = client.post("/account/webauthn/options", headers={"X-CSRF-Token": token})
    assert response.status_code == 200
    options = response.json()
    assert options["rp"]["id"] == "127.0.0.1" and options["user"]["name"] == "root@example.com"
    assert len(options["challenge"]) >= 43
    row = db.scalars(select(LoginSession)).one()
    assert row.webauthn_challenge is not None
    db.rollback()

    forged = {
        "id": "AAAA",
        "rawId": "AAAA",
        "type": "public-key",
        "response": {"clientDataJSON": "e30", "attestationObject": "oA"},
    }
    refused = client.post(
        "/account/webauthn/verify",
        headers={"X-CSRF-Token": token},
        json={"credential": forged, "label": "mine"},
    )
    assert refused.status_code == 422
    assert refused.json() == {"error": "the security key could not be registered"}
    assert db.scalars(select(WebAuthnCredential)).first() is None
    assert db.scalars(select(LoginSession)).one().webauthn_challenge is None  # spent
    db.rollback()
