"""The guard's decisions for services are remembered per policy generation, caller, request and
UTC minute; a policy change, a new minute or anything else a rule reads decides afresh."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address

import pytest

from core.authz import AccessRequest, Decision, Principal
from policies.runtime import runtime
from server import security

SERVICE = Principal(subject="svc", kind="service", client_id="svc", tenant="shop")
PERSON = Principal(
    subject="u1", kind="user", tenant="shop", auth_time=datetime(2026, 11, 25, 9, 59, tzinfo=UTC)
)
AT = datetime(2026, 11, 25, 10, 0, 5, tzinfo=UTC)
ALLOW = "p, client:svc, shop, vault/pan, detokenize, allow,"


@pytest.fixture(autouse=True)
def _fresh_policy() -> Iterator[None]:
    runtime.forget()
    security.forget_decisions()
    yield
    runtime.forget()
    security.forget_decisions()


@pytest.fixture
def decided(monkeypatch: pytest.MonkeyPatch) -> list[AccessRequest]:
    """Every request the policy itself was asked about (not answered from memory)."""
    asked: list[AccessRequest] = []
    real = security._decide

    def counting(access: AccessRequest) -> Decision:
        asked.append(access)
        return real(access)

    monkeypatch.setattr(security, "_decide", counting)
    return asked


def _request(**changes: object) -> AccessRequest:
    request = AccessRequest(SERVICE, "vault:pan", "detokenize", ip_address("10.0.0.1"), AT)
    return replace(request, **changes)  # type: ignore[arg-type]


def test_a_service_is_decided_once_per_minute_and_request(decided: list[AccessRequest]) -> None:
    runtime.load(1, [ALLOW])
    assert security.decide(_request()).allowed
    assert security.decide(_request(at=AT + timedelta(seconds=50))).allowed
    assert len(decided) == 1
    assert security.decide(_request(at=AT + timedelta(seconds=55))).allowed  # 10:01:00
    assert not security.decide(_request(act="reveal")).allowed
    assert security.decide(_request(origin=ip_address("10.0.0.2"))).allowed
    assert not security.decide(_request(principal=replace(SERVICE, client_id="other"))).allowed
    assert len(decided) == 5


def test_a_policy_change_takes_effect_at_once_even_at_a_version_seen_before() -> None:
    runtime.load(1, [ALLOW])
    assert security.decide(_request()).allowed
    assert runtime.apply_delta(1, 2, added=[], removed=[ALLOW])
    assert not security.decide(_request()).allowed
    runtime.forget()
    runtime.load(1, [ALLOW.replace("detokenize", "reveal")])  # another database's version 1
    assert not security.decide(_request()).allowed
    runtime.forget()
    runtime.load(1, [ALLOW])
    assert security.decide(_request()).allowed


def test_time_windows_and_zones_are_honoured_from_memory() -> None:
    runtime.load(
        1,
        [
            "zone, internal, 10.0.0.0/8",
            "p, client:svc, shop, vault/pan, detokenize, allow, hours=10:00-10:01 & zone=internal",
        ],
    )
    assert security.decide(_request(at=AT + timedelta(seconds=54))).allowed  # 10:00:59
    assert not security.decide(_request(at=AT + timedelta(seconds=55))).allowed  # 10:01:00
    assert security.decide(_request()).allowed
    assert not security.decide(_request(origin=ip_address("192.0.2.1"))).allowed


def test_a_person_is_decided_every_time_as_auth_age_moves(decided: list[AccessRequest]) -> None:
    runtime.load(1, ["p, user:u1, shop, vault/pan, reveal, allow, auth_age<=120"])
    person = _request(principal=PERSON, act="reveal")
    assert PERSON.auth_time is not None
    assert security.decide(replace(person, at=PERSON.auth_time + timedelta(seconds=119))).allowed
    fresh = security.decide(replace(person, at=PERSON.auth_time + timedelta(seconds=119)))
    stale = security.decide(replace(person, at=PERSON.auth_time + timedelta(seconds=121)))
    assert fresh.allowed and not stale.allowed  # one minute, two answers
    assert len(decided) == 3


def test_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security, "DECISION_MEMO_SIZE", 8)
    runtime.load(1, [ALLOW])
    for port in range(20):
        security.decide(_request(origin=ip_address(f"10.0.1.{port}")))
    assert 0 < len(security._decisions) <= 8
