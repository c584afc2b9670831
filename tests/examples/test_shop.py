"""The example shop service end to end against a running Rampart (a real uvicorn process): real
tokens from Rampart's token endpoint, verified locally by the SDK, permissions from Rampart's
decision API, card numbers through Rampart's vault, revocation through introspection."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from core.database import unit_of_work
from core.settings import Settings
from examples.shop.app import create_app
from iam.oauth2.schemas import ClientSpec
from iam.oauth2.service import apply_client
from policies import service
from rampart_sdk import Rampart
from tests.policies.authz_support import authz_settings
from tests.policies.processes import rampart_process

__all__ = ["authz_settings"]  # fixture used by name

SHOP_AUDIENCE = "https://shop.example/orders"
PAN = "4111111111111111"
SHOP_POLICY = [
    # The shop service itself: asks for decisions, tokenizes, and detokenizes cards for refunds.
    "g, client:shop-orders, role:service, rampart",
    "p, client:shop-orders, rampart, vault/pan, detokenize, allow,",
    # Its callers, in the shop's own domain.
    "p, client:web-frontend, shop, orders, read|write, allow,",
    "p, client:web-frontend, shop, orders/refunds, create, allow,",
    "p, client:crm, shop, orders, read, allow,",
]


def _client(client_id: str, audiences: list[str]) -> tuple[str, str]:
    with unit_of_work() as db:
        applied = apply_client(
            db,
            ClientSpec(
                name=client_id,
                client_id=client_id,
                grant_types=["client_credentials"],
                audiences=audiences,
            ),
        )
    assert applied.client_secret is not None
    return client_id, applied.client_secret


@pytest.fixture
def rampart_url(authz_settings: Settings) -> Iterator[str]:
    with unit_of_work() as db:
        service.ensure_default_policy(db)
        lines = service.snapshot(db).lines
        service.apply_policy(db, [*lines, *SHOP_POLICY], actor="test", reason="shop")
    env = {**os.environ, "RAMPART_SCHEDULER": "off", "RAMPART_LOG_LEVEL": "WARNING"}
    env.pop("RAMPART_REDIS_URL", None)
    with rampart_process(env) as url:
        yield url


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_shop_serves_only_what_rampart_allows(
    authz_settings: Settings, rampart_url: str
) -> None:
    shop_id, shop_secret = _client("shop-orders", [])
    web = _client("web-frontend", [SHOP_AUDIENCE])
    crm = _client("crm", [SHOP_AUDIENCE])
    rampart = Rampart(
        rampart_url,
        issuer=authz_settings.issuer,
        audience=SHOP_AUDIENCE,
        client_id=shop_id,
        client_secret=shop_secret,
        domain="shop",
    )

    def token(client: tuple[str, str]) -> str:
        response = httpx.post(
            rampart_url + "/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=client,
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    web_token, crm_token = token(web), token(crm)
    as_web = {"Authorization": f"Bearer {web_token}"}
    as_crm = {"Authorization": f"Bearer {crm_token}"}
    with TestClient(create_app(rampart)) as shop:
        created = shop.post("/orders", json={"item": "boots", "card_number": PAN}, headers=as_web)
        assert created.status_code == 201, created.text
        order = created.json()
        assert order["owner"] == "client:web-frontend"
        assert order["card_token"] != PAN and PAN not in created.text

        assert shop.get("/orders/1", headers=as_crm).status_code == 200
        refused = shop.post("/orders", json={"item": "x", "card_number": PAN}, headers=as_crm)
        assert refused.status_code == 403
        assert shop.get("/orders/1").status_code == 401
        tampered = web_token[:-3] + ("AAA" if not web_token.endswith("AAA") else "BBB")
        assert (
            shop.get("/orders/1", headers={"Authorization": f"Bearer {tampered}"}).status_code
            == 401
        )

        refund = shop.post("/orders/1/refunds", headers=as_web)
        assert refund.status_code == 202, refund.text
        assert refund.json() == {"status": "refund sent", "card_last4": "1111"}

        revoked = httpx.post(rampart_url + "/oauth2/revoke", data={"token": web_token}, auth=web)
        assert revoked.status_code == 200
        # Revocation-sensitive routes introspect: a revoked token is refused at once ...
        assert shop.post("/orders/1/refunds", headers=as_web).status_code == 401
        # ... while plain routes trust the signature until the token expires (by design).
        for _ in range(10):
            assert shop.get("/orders/1", headers=as_web).status_code == 200

    # The decision API was asked once per distinct question (TTL cache), not per request:
    # web write, crm read, crm write, web refund, web read.
    assert rampart.permissions.remote_calls == 5
    assert rampart.jwks.fetch_count == 1
