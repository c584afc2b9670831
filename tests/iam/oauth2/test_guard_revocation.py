"""The guard's revocation check: a revocation by this process counts at the very next request,
one by another process (a row it committed) within REVOCATION_CACHE_SECONDS; introspection stays
exact."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from core.clock import utcnow
from iam.oauth2.models import RevokedAccessToken
from iam.oauth2.token_store import REVOCATION_CACHE_SECONDS, GuardRevocations, guard_revocations
from server.security import authenticate
from tests.iam.oauth2.support import RegisteredApp, basic, make_client


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClock]:
    fake = FakeClock()
    guard_revocations.forget()
    monkeypatch.setattr(guard_revocations, "clock", fake)
    yield fake
    guard_revocations.forget()


def test_cached_answer_lives_at_most_the_ttl() -> None:
    clock = FakeClock()
    cache = GuardRevocations(ttl=1.0, clock=clock)
    revoked_in_db = False
    reads = 0

    def read() -> bool:
        nonlocal reads
        reads += 1
        return revoked_in_db

    assert cache.is_revoked("a", read) is False
    revoked_in_db = True  # another process revokes
    clock.now += 0.5
    assert cache.is_revoked("a", read) is False and reads == 1  # within the bound
    clock.now += 0.6
    assert cache.is_revoked("a", read) is True and reads == 2  # past it: read again


def test_revoked_here_wins_over_a_cached_answer_at_once() -> None:
    clock = FakeClock()
    cache = GuardRevocations(ttl=1.0, clock=clock)
    assert cache.is_revoked("a", lambda: False) is False
    cache.revoked_here("a", utcnow() + timedelta(minutes=5))
    assert cache.is_revoked("a", lambda: False) is True
    assert cache.is_revoked("b", lambda: False) is False


def test_a_revoked_answer_is_never_cached_as_not_revoked() -> None:
    cache = GuardRevocations(ttl=1.0, clock=FakeClock())
    assert cache.is_revoked("a", lambda: True) is True
    assert cache.is_revoked("a", lambda: True) is True


def _guarded(token: str) -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/",
            "headers": [(b"authorization", f"Bearer {token}".encode())],
        }
    )


@pytest.fixture
def service(db: Session) -> RegisteredApp:
    return make_client(db, name="guarded-svc")


@pytest.fixture
def access_token(http: TestClient, service: RegisteredApp) -> str:
    response = http.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=basic(service)
    )
    assert response.status_code == 200
    return str(response.json()["access_token"])


def test_revoked_by_this_process_is_refused_at_the_next_request(
    http: TestClient, service: RegisteredApp, access_token: str, clock: FakeClock
) -> None:
    assert authenticate(_guarded(access_token)) is not None  # now cached as not revoked
    revoked = http.post("/oauth2/revoke", data={"token": access_token}, auth=basic(service))
    assert revoked.status_code == 200
    assert authenticate(_guarded(access_token)) is None  # same clock instant: no TTL wait
    assert http.post(
        "/oauth2/introspect", data={"token": access_token}, auth=basic(service)
    ).json() == {"active": False}


def test_revoked_by_another_process_is_refused_within_the_bound(
    http: TestClient, db: Session, service: RegisteredApp, access_token: str, clock: FakeClock
) -> None:
    assert authenticate(_guarded(access_token)) is not None
    jti = _jti(access_token)
    _revoke_elsewhere(db, service, jti)
    introspected = http.post(
        "/oauth2/introspect", data={"token": access_token}, auth=basic(service)
    ).json()
    assert introspected == {"active": False}  # introspection: exact, at once
    clock.now += REVOCATION_CACHE_SECONDS / 2
    assert authenticate(_guarded(access_token)) is not None  # the documented staleness
    clock.now += REVOCATION_CACHE_SECONDS / 2 + 0.01
    assert authenticate(_guarded(access_token)) is None


def test_an_answer_in_steady_use_is_read_again_before_it_expires(clock: FakeClock) -> None:
    assert guard_revocations.is_revoked("j1", lambda: False) is False  # fresh for the TTL
    clock.now += REVOCATION_CACHE_SECONDS * 0.5
    assert not guard_revocations.due_for_refresh("j1")
    clock.now += REVOCATION_CACHE_SECONDS * 0.3  # in the last quarter of its life
    assert guard_revocations.due_for_refresh("j1")
    reads: list[str] = []

    def read_not_revoked() -> bool:
        reads.append("j1")
        return False

    guard_revocations.refresh("j1", read_not_revoked)
    assert reads == ["j1"] and not guard_revocations.due_for_refresh("j1")
    clock.now += REVOCATION_CACHE_SECONDS * 0.9  # past the first answer, within the new one
    assert guard_revocations.known_not_revoked("j1")
    guard_revocations.refresh("j1", lambda: True)  # another process revoked it meanwhile
    assert not guard_revocations.known_not_revoked("j1")
    guard_revocations.refresh("j1", lambda: False)  # no answer is made up for a dropped one
    assert not guard_revocations.known_not_revoked("j1")


def test_refresh_ahead_reads_once_at_a_time_off_the_event_loop(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import threading

    from server import security

    reads: list[tuple[str, bool]] = []
    release = threading.Event()

    def slow_read(jti: str) -> None:
        reads.append((jti, threading.current_thread() is threading.main_thread()))
        release.wait(5)

    monkeypatch.setattr(security, "_refresh_revocation", slow_read)

    async def requests_in_flight() -> None:
        for _ in range(5):  # five requests while one read is under way
            security._refresh_ahead("j2")
        await asyncio.sleep(0.2)
        release.set()
        await asyncio.gather(*security._refresh_tasks)
        security._refresh_ahead("j2")  # the read is over: the next request may start another
        await asyncio.gather(*security._refresh_tasks)

    security._refresh_ahead("j2")  # no event loop: nothing is started
    asyncio.run(requests_in_flight())
    assert reads == [("j2", False), ("j2", False)]
    assert not security._refreshing and not security._refresh_tasks


def test_a_background_read_finds_a_revocation_by_another_process(
    http: TestClient, db: Session, service: RegisteredApp, access_token: str, clock: FakeClock
) -> None:
    from server.security import _refresh_revocation, authenticate_from_cache

    assert authenticate(_guarded(access_token)) is not None  # verified, cached as not revoked
    assert authenticate_from_cache(_guarded(access_token)) is not None
    jti = _jti(access_token)
    _refresh_revocation(jti)  # read again: still not revoked
    assert authenticate_from_cache(_guarded(access_token)) is not None
    _revoke_elsewhere(db, service, jti)
    _refresh_revocation(jti)  # the background read sees the other process's row
    assert authenticate_from_cache(_guarded(access_token)) is None
    assert authenticate(_guarded(access_token)) is None


def _jti(access_token: str) -> str:
    payload = access_token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"])


def _revoke_elsewhere(db: Session, service: RegisteredApp, jti: str) -> None:
    """A revocation committed by another process: this process's caches were not told."""
    db.add(
        RevokedAccessToken(
            jti=jti,
            client_id=service.client_id,
            expires_at=utcnow() + timedelta(minutes=5),
            reason="revoked_elsewhere",
        )
    )
    db.commit()
