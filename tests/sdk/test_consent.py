"""`Rampart.has_consent` asks /v1/consent/check with the service's own client-credentials token
(the real app in-process): never decided is False, a grant makes it True, a withdrawal False."""

from __future__ import annotations

from fastapi.testclient import TestClient

from compliance.gdpr import consent
from core.database import unit_of_work
from core.settings import Settings
from iam.oauth2.schemas import ClientSpec
from iam.oauth2.service import apply_client
from rampart_sdk import Rampart
from tests.policies.authz_support import add_policy_lines, api, authz_settings

__all__ = ["api", "authz_settings"]  # fixtures used by name


def test_has_consent_follows_the_latest_decision(api: TestClient, settings: Settings) -> None:
    with unit_of_work() as db:
        consent.seed_default_purposes(db, actor="system")
        applied = apply_client(
            db, ClientSpec(name="shop", client_id="shop", grant_types=["client_credentials"])
        )
    add_policy_lines("g, client:shop, role:service, rampart")
    assert applied.client_secret is not None
    rampart = Rampart(
        "http://testserver",
        issuer=settings.issuer,
        audience="https://shop.example",
        client_id="shop",
        client_secret=applied.client_secret,
        http=api,
    )
    assert rampart.has_consent("cust-9", "personalize") is False
    with unit_of_work() as db:
        consent.grant_consent(
            db, subject="cust-9", purpose="personalize", source="portal", notice_version="1",
            actor="subject:cust-9",
        )  # fmt: skip
    assert rampart.has_consent("cust-9", "personalize") is True
    assert rampart.has_consent("cust-9", "analytics") is False
