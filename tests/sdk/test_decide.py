"""`Rampart.decide` takes the caller's token as received: it is verified first, so a forged or
tampered token raises TokenInvalid and Rampart is never asked about it (docs/sdk.md runs the
happy path, with both a token string and a verified token, against a live server)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rampart_sdk import Rampart, TokenInvalid
from tests.sdk.jwks_server import AUDIENCE, ISSUER, JwksServer, jwks_server


@pytest.fixture
def server() -> Iterator[JwksServer]:
    with jwks_server() as running:
        yield running


def test_decide_verifies_a_token_string_before_asking(server: JwksServer) -> None:
    base = server.url.removesuffix("/.well-known/jwks.json")
    rampart = Rampart(
        base, issuer=ISSUER, audience=AUDIENCE, client_id="shop-orders", client_secret="unused"
    )
    good = server.sign()
    assert rampart.verify(good).subject  # the untampered token verifies
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    for forged in (tampered, "not-a-token"):
        with pytest.raises(TokenInvalid):
            rampart.decide(forged, "orders", "write")
    assert rampart.permissions.remote_calls == 0
