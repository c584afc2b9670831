"""The `cond` column language and the request context it reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from policies.enforcer import DecisionContext, NetworkZones, PolicyInvalid
from policies.enforcer.conditions import action_matches, compile_condition, condition_holds

MONDAY_10 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


def _ctx(**changes: object) -> DecisionContext:
    values: dict[str, object] = {
        "now": MONDAY_10,
        "amr": ["pwd", "mfa"],
        "auth_time": MONDAY_10 - timedelta(seconds=100),
        "client_id": "checkout",
    }
    values.update(changes)
    return DecisionContext.build(**values)  # type: ignore[arg-type]


def test_empty_condition_always_holds() -> None:
    assert compile_condition("") is None
    assert condition_holds("", _ctx(amr=[]))


@pytest.mark.parametrize(
    ("cond", "ctx", "expected"),
    [
        ("mfa", _ctx(), True),
        ("mfa", _ctx(amr=["pwd", "otp"]), False),
        ("!mfa", _ctx(amr=["pwd"]), True),
        ("amr=hwk|swk", _ctx(amr=["hwk"]), True),
        ("amr=hwk", _ctx(), False),
        ("auth_age<=300", _ctx(), True),
        ("auth_age<=60", _ctx(), False),
        ("auth_age<=300", _ctx(auth_time=None), False),
        ("auth_age<=300", _ctx(auth_time=MONDAY_10 + timedelta(seconds=30)), True),
        ("auth_age<=300", _ctx(auth_time=MONDAY_10 + timedelta(seconds=90)), False),
        ("client=checkout|orders", _ctx(), True),
        ("client=orders", _ctx(), False),
        ("client!=crm", _ctx(client_id=None), True),
        ("hours=08:00-18:00", _ctx(), True),
        ("hours=08:00-10:00", _ctx(), False),
        ("hours=22:00-11:00", _ctx(), True),
        ("hours=22:00-06:00", _ctx(), False),
        ("hours=00:00-24:00", _ctx(), True),
        ("days=mon-fri", _ctx(), True),
        ("days=sat|sun", _ctx(), False),
        ("days=sun-mon", _ctx(), True),
        ("mfa & client=checkout & hours=09:00-11:00", _ctx(), True),
        ("mfa & client=orders", _ctx(), False),
    ],
)
def test_clauses(cond: str, ctx: DecisionContext, expected: bool) -> None:
    assert condition_holds(cond, ctx) is expected


def test_network_zones_most_specific_network_wins() -> None:
    zones = NetworkZones(
        {"internal": ["10.0.0.0/8", "fd00::/8"], "pci": ["10.1.0.0/16"], "office": ["192.0.2.0/24"]}
    )
    assert zones.zone_of("10.2.3.4") == "internal"
    assert zones.zone_of("10.1.3.4") == "pci"
    assert zones.zone_of("fd00::1") == "internal"
    assert zones.zone_of("203.0.113.9") is None
    assert zones.zone_of("not an address") is None
    ctx = _ctx(ip="10.1.0.9", zones=zones)
    assert ctx.zone == "pci"
    assert condition_holds("zone=pci|internal", ctx)
    assert not condition_holds("zone!=pci", ctx)
    assert not condition_holds("zone=internal", _ctx(ip="10.1.0.9"))  # no zone map: no zone


@pytest.mark.parametrize(
    "cond",
    ["sometimes", "zone=", "zone=a,b", "auth_age<=soon", "hours=8-18", "days=monday", "client<=x"],
)
def test_malformed_conditions_are_refused(cond: str) -> None:
    with pytest.raises(PolicyInvalid):
        compile_condition(cond)


def test_invalid_zone_map_is_refused() -> None:
    with pytest.raises(PolicyInvalid):
        NetworkZones({"internal": ["10.0.0.0/33"]})


def test_action_match() -> None:
    assert action_matches("read", "read|list")
    assert action_matches("write", "*")
    assert not action_matches("read|list", "read|list")
    assert not action_matches("", "")  # pycasbin evaluates empty fields on an empty policy
