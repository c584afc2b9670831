"""Replica sync with real processes: two uvicorn servers on one PostgreSQL; a policy change made
through one is enforced by the other within 1 s — over Redis pub/sub, and by polling the version
row when there is no Redis. Also the syncer's delta/reload choices in-process."""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from core.database import unit_of_work
from core.settings import Settings
from policies import service
from policies.runtime import PolicyRuntime
from policies.sync import PolicyChange, PolicySyncer
from tests.policies.authz_support import authz_settings, make_service_client
from tests.policies.processes import rampart_process

__all__ = ["authz_settings"]  # fixture used by name

ROOT = Path(__file__).resolve().parents[2]
PROPAGATION_LIMIT = 1.0  # seconds: the bound
GRANT = "p, user:probe, rampart, evidence, read, allow,"


def _allowed(base: str, token: str) -> tuple[bool, int]:
    response = httpx.post(
        base + "/v1/authz/check",
        json={"subject": "user:probe", "object": "evidence", "action": "read"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return bool(body["allowed"]), int(body["policy_version"])


def _wait_for(base: str, token: str, allowed: bool, version: int) -> float:
    start = time.monotonic()
    while time.monotonic() - start < 5:
        if _allowed(base, token) == (allowed, version):
            return time.monotonic() - start
        time.sleep(0.02)
    pytest.fail(f"{base} did not enforce version {version} within 5 s")


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("transport", ["redis", "polling"])
def test_a_change_through_one_process_is_enforced_by_the_other_within_a_second(
    authz_settings: Settings, redis_url: str, transport: str
) -> None:
    client = make_service_client("svc-sync")
    with unit_of_work() as db:
        service.ensure_default_policy(db)
        lines = service.snapshot(db).lines
        service.apply_policy(
            db,
            [
                *lines,
                "g, client:svc-sync, role:service, rampart",
                "p, client:svc-sync, rampart, policies, read|apply, allow,",
            ],
            actor="test",
            reason="sync test client",
        )
    env = {
        **os.environ,
        "RAMPART_SCHEDULER": "off",
        "RAMPART_LOG_LEVEL": "WARNING",
    }
    env.pop("RAMPART_REDIS_URL", None)
    if transport == "redis":
        env["RAMPART_REDIS_URL"] = redis_url
    with ExitStack() as stack:
        first = stack.enter_context(rampart_process(env))
        second = stack.enter_context(rampart_process(env))
        token_response = httpx.post(
            first + "/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(client.client_id, client.secret),
        )
        assert token_response.status_code == 200, token_response.text
        token = token_response.json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert _allowed(first, token) == (False, 2) and _allowed(second, token) == (False, 2)

        delays = []
        for round_number in range(3):
            current = httpx.get(first + "/v1/policies", headers=headers).json()
            granting = round_number % 2 == 0
            wanted = (
                [*current["lines"], GRANT]
                if granting
                else [line for line in current["lines"] if line != GRANT]
            )
            applied = httpx.post(
                first + "/v1/policies",
                json={"lines": wanted, "reason": f"round {round_number}"},
                headers=headers,
            )
            assert applied.status_code == 200, applied.text
            version = applied.json()["version"]
            # The writing process enforces its own change before answering.
            assert _allowed(first, token) == (granting, version)
            delays.append(_wait_for(second, token, granting, version))
    print(f"propagation delays ({transport}): {delays}")  # noqa: T201 - reported figure
    assert max(delays) < PROPAGATION_LIMIT, delays


class _ScriptedStore:
    """The store as seen by a syncer: versions 1..n of line lists (no database needed here:
    the database-backed store is exercised by the process test above)."""

    def __init__(self, versions: list[list[str]]) -> None:
        self.versions = versions
        self.loads = 0

    def load(self) -> tuple[int, list[str]]:
        self.loads += 1
        return len(self.versions), self.versions[-1]

    def head_version(self) -> int:
        return len(self.versions)

    def changes_since(self, version: int) -> PolicyChange:
        old, new = set(self.versions[version - 1]), self.versions[-1]
        return PolicyChange(
            version=len(self.versions),
            previous_version=version,
            added=[line for line in new if line not in old],
            removed=[line for line in self.versions[version - 1] if line not in set(new)],
        )


def test_the_syncer_applies_the_next_delta_and_catches_up_on_a_gap() -> None:
    a = "p, role:r, d, o, read, allow,"
    b = "p, role:r, d, o, write, allow,"
    store = _ScriptedStore([[a]])
    target = PolicyRuntime()
    syncer = PolicySyncer(store, redis_url=None, target=target)
    syncer.catch_up()
    assert target.version == 1 and store.loads == 1
    store.versions.append([a, b])
    syncer.on_message(PolicyChange(2, 1, [b], []).to_message())
    assert target.version == 2 and store.loads == 1  # the published delta, no reload
    store.versions.append([b])
    store.versions.append([b, "g, user:u, role:r, d"])
    # Version 4 announced while this process is at 2: the net change from the store.
    syncer.on_message(PolicyChange(4, 3, ["g, user:u, role:r, d"], []).to_message())
    assert target.version == 4 and store.loads == 1
    assert sorted(target.lines()) == sorted(store.versions[-1])
    with target.view() as view:
        ctx = view.context(now=datetime.now(UTC))
        assert view.decide(["user:u"], "d", "o", "write", ctx).allowed
        assert not view.decide(["user:u"], "d", "o", "read", ctx).allowed
