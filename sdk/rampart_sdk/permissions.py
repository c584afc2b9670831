"""Permission checks through Rampart's decision API, with a short TTL cache (bounded) so a hot
path asks Rampart at most once per (subject, roles, object, action, context) per ``ttl``."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rampart_sdk.http import ServiceSession

CHECK_PATH = "/v1/authz/check"
BATCH_PATH = "/v1/authz/check-batch"
MAX_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Check:
    subject: str
    object: str
    action: str
    roles: tuple[str, ...] = ()
    domain: str = "rampart"
    amr: tuple[str, ...] = ()
    auth_time: int | None = None
    ip: str | None = None
    client_id: str | None = None
    extra: tuple[Any, ...] = field(default=(), compare=False)

    def body(self) -> dict[str, Any]:
        context: dict[str, Any] = {"amr": list(self.amr)}
        if self.auth_time is not None:
            context["auth_time"] = self.auth_time
        if self.ip is not None:
            context["ip"] = self.ip
        if self.client_id is not None:
            context["client_id"] = self.client_id
        return {
            "subject": self.subject,
            "roles": list(self.roles),
            "domain": self.domain,
            "object": self.object,
            "action": self.action,
            "context": context,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    policy_version: int
    rule: str | None = None


class PermissionClient:
    def __init__(
        self, session: ServiceSession, *, ttl_seconds: float = 5.0, cache_size: int = 50_000
    ) -> None:
        self._session = session
        self._ttl = ttl_seconds
        self._cache: dict[Check, tuple[float, Decision]] = {}
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self.remote_calls = 0

    def decide(self, check: Check) -> Decision:
        now = time.monotonic()
        cached = self._cache.get(check)
        if cached is not None and cached[0] > now:
            return cached[1]
        self.remote_calls += 1
        body = self._session.call("POST", CHECK_PATH, json=check.body())
        decision = Decision(bool(body["allowed"]), int(body["policy_version"]), body.get("rule"))
        self._remember(check, decision, now)
        return decision

    def allowed(self, check: Check) -> bool:
        return self.decide(check).allowed

    def decide_many(self, checks: Sequence[Check]) -> list[Decision]:
        """Many decisions in batches of up to 1000; cached answers are not asked again."""
        now = time.monotonic()
        results: list[Decision | None] = []
        missing: list[int] = []
        for index, check in enumerate(checks):
            cached = self._cache.get(check)
            if cached is not None and cached[0] > now:
                results.append(cached[1])
            else:
                results.append(None)
                missing.append(index)
        for start in range(0, len(missing), MAX_BATCH):
            chunk = missing[start : start + MAX_BATCH]
            self.remote_calls += 1
            body = self._session.call(
                "POST", BATCH_PATH, json={"checks": [checks[i].body() for i in chunk]}
            )
            for index, item in zip(chunk, body["results"], strict=True):
                decision = Decision(
                    bool(item["allowed"]), int(item["policy_version"]), item.get("rule")
                )
                results[index] = decision
                self._remember(checks[index], decision, now)
        return [decision for decision in results if decision is not None]

    def _remember(self, check: Check, decision: Decision, now: float) -> None:
        if self._ttl <= 0 or self._cache_size <= 0:
            return
        with self._lock:
            if len(self._cache) >= self._cache_size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[check] = (now + self._ttl, decision)
