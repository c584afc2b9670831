"""Proxy route declarations: the rules a route must meet, and `rampart vault route add|list|
delete|rotate-secret` as an operator runs them (an inbound secret printed once, never listed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from vault.proxy.exceptions import RouteExists, RouteInvalid, RouteNotFound
from vault.proxy.routes import RouteDeclaration, create_route, delete_route, get_route

RAMPART = str(Path(sys.executable).with_name("rampart"))
CARD = [{"path": "$.card.number", "type": "pan"}]


def _declare(**overrides: Any) -> RouteDeclaration:
    declared: dict[str, Any] = {
        "name": "gateway",
        "direction": "outbound",
        "destination": "https://pay.example.com/v1",
        "fields": CARD,
        "purpose": "payment.authorize",
    }
    declared.update(overrides)
    return RouteDeclaration(**declared)


@pytest.mark.parametrize(
    "overrides",
    [
        {"name": "Gateway"},
        {"name": "x"},
        {"direction": "sideways"},
        {"destination": "http://pay.example.com/v1"},  # https required
        {"destination": "https://10.0.0.1/"},
        {"destination": "https://user@pay.example.com/"},
        {"destination": "file:///etc/passwd"},
        {"purpose": None},  # outbound needs a purpose
        {"purpose": "X"},
        {"fields": []},
        {"fields": [{"path": "$.card.number", "type": "card"}]},
        {"fields": [{"path": "card.number", "type": "pan"}]},
        {"fields": [{"path": "$.pan", "type": "pan", "format": "opaque"}]},  # outbound: no format
        {"fields": CARD + CARD},
        {"methods": ("GET",)},
        {"direction": "inbound", "purpose": None, "methods": ("PUT",)},
        {"direction": "inbound", "purpose": "payment.authorize"},
    ],
)
def test_route_rules(
    local_kms: Settings, sessions: sessionmaker[Session], overrides: dict[str, Any]
) -> None:
    with sessions() as session, pytest.raises(RouteInvalid):
        create_route(session, tenant="t1", declaration=_declare(**overrides))


def test_routes_are_per_tenant_and_unique(
    local_kms: Settings, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        route, secret = create_route(session, tenant="t1", declaration=_declare())
        assert secret is None and route.methods == ("POST",)
        with pytest.raises(RouteExists):
            create_route(session, tenant="t1", declaration=_declare())
        create_route(session, tenant="t2", declaration=_declare())
        with pytest.raises(RouteNotFound):
            get_route(session, tenant="t1", name="gateway", direction="inbound")
        delete_route(session, tenant="t1", name="gateway")
        with pytest.raises(RouteNotFound):
            get_route(session, tenant="t1", name="gateway", direction="outbound")
        assert get_route(session, tenant="t2", name="gateway", direction="outbound").purpose
        session.commit()


def _rampart(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RAMPART, "vault", "route", *args],
        env={**os.environ, "RAMPART_LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_cli_route_add_list_rotate_delete(local_kms: Settings) -> None:
    outbound = _rampart(
        "add", "gateway", "--direction", "outbound", "--destination",
        "https://pay.example.com/v1", "--field", "$.card.number=pan", "--field",
        "$.card.cvc=cvc", "--purpose", "payment.authorize", "--json",
    )  # fmt: skip
    assert outbound.returncode == 0, outbound.stderr
    assert json.loads(outbound.stdout)["secret"] is None
    inbound = _rampart(
        "add", "webhook", "--direction", "inbound", "--destination", "https://shop.example.com/",
        "--field", "$.data.card.number=pan:pan_first6_last4",
    )  # fmt: skip
    assert inbound.returncode == 0, inbound.stderr
    secret = inbound.stdout.split("signing secret (shown once): ")[1].strip()
    assert secret.startswith("rps_") and len(secret) > 40

    listing = _rampart("list", "--json")
    assert listing.returncode == 0 and secret not in listing.stdout
    routes = {r["name"]: r for r in json.loads(listing.stdout)}
    assert routes["gateway"]["fields"][1] == {"path": "$.card.cvc", "type": "cvc", "format": None}
    assert routes["webhook"]["fields"][0]["format"] == "pan_first6_last4"
    assert routes["webhook"]["signed"] is True

    rotated = _rampart("rotate-secret", "webhook")
    assert rotated.returncode == 0 and secret not in rotated.stdout
    bad = _rampart("add", "x1", "--direction", "outbound", "--destination", "https://a.example",
                   "--field", "nonsense")  # fmt: skip
    assert bad.returncode == 1 and "PATH=TYPE" in bad.stderr
    assert _rampart("delete", "gateway").returncode == 0
    assert _rampart("delete", "gateway").returncode == 1
    assert [r["name"] for r in json.loads(_rampart("list", "--json").stdout)] == ["webhook"]
