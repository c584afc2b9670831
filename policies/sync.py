"""Replica sync: every process enforces the newest policy version within a second.

The writer, once its transaction commits, patches its own enforcer and publishes ``version`` and
the delta on Redis (``RAMPART_REDIS_URL``). Each process runs one :class:`PolicySyncer` thread: it
applies a published delta when it is exactly the next version, and otherwise catches up from the
database (the net change since its version, or a full reload). Without Redis it polls the
version row every half second; with Redis it still polls every few seconds, in case a message was
lost while it reconnected.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session

from core.logging import get_logger
from core.settings import get_settings
from policies.runtime import PolicyRuntime, runtime

if TYPE_CHECKING:
    import redis

log = get_logger(__name__)

CHANNEL = "rampart:policies"
MAX_PUBLISHED_LINES = 1000  # a larger delta is announced by version only; readers fetch it
POLL_SECONDS_WITHOUT_REDIS = 0.5
POLL_SECONDS_WITH_REDIS = 5.0
_PENDING = "rampart_policy_changes"


@dataclass(frozen=True, slots=True)
class PolicyChange:
    """What one version changed (or the net change across several)."""

    version: int
    previous_version: int
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def to_message(self) -> str:
        body: dict[str, Any] = {"version": self.version, "previous_version": self.previous_version}
        if len(self.added) + len(self.removed) <= MAX_PUBLISHED_LINES:
            body["added"], body["removed"] = self.added, self.removed
        return json.dumps(body)

    @staticmethod
    def from_message(data: str | bytes) -> tuple[int, PolicyChange | None]:
        """The announced version, and the delta when the message carried it."""
        body = json.loads(data)
        version = int(body["version"])
        if "added" not in body:
            return version, None
        return version, PolicyChange(
            version=version,
            previous_version=int(body["previous_version"]),
            added=[str(line) for line in body["added"]],
            removed=[str(line) for line in body["removed"]],
        )


# -- the writer's side -----------------------------------------------------------------------

_publish_clients: dict[str, redis.Redis] = {}
_publish_lock = threading.Lock()
_local_syncers: list[PolicySyncer] = []


def _configured_redis_url() -> str | None:
    return get_settings().redis_url


# Where a committed change is published (tests point it elsewhere).
redis_url_provider: Callable[[], str | None] = _configured_redis_url


def announce_after_commit(db: Session, change: PolicyChange) -> None:
    """Once ``db`` commits: patch this process's enforcer and tell the other processes."""
    pending: list[PolicyChange] | None = db.info.get(_PENDING)
    if pending is None:
        pending = db.info[_PENDING] = []
        event.listen(db, "after_commit", _after_commit)
        event.listen(db, "after_soft_rollback", _after_rollback)
    pending.append(change)


def _after_commit(db: Session) -> None:
    changes: list[PolicyChange] = db.info.pop(_PENDING, [])
    for change in changes:
        publish(change)


def _after_rollback(db: Session, _previous: Any) -> None:
    db.info.pop(_PENDING, None)


def publish(change: PolicyChange, target: PolicyRuntime = runtime) -> None:
    """Apply locally (or wake the local syncer) and publish on Redis; never raises: the other
    processes' polling is the safety net."""
    if not target.apply_delta(
        change.previous_version, change.version, change.added, change.removed
    ):
        for syncer in list(_local_syncers):
            syncer.wake()
    url = redis_url_provider()
    if not url:
        return
    import redis  # only deployments with Redis pay for the client

    try:
        with _publish_lock:
            client = _publish_clients.get(url)
            if client is None:
                client = _publish_clients[url] = redis.Redis.from_url(
                    url, socket_timeout=1.0, socket_connect_timeout=1.0
                )
        client.publish(CHANNEL, change.to_message())
    except redis.RedisError as exc:
        log.warning("policy change not published; replicas will poll", error=type(exc).__name__)


# -- every process's side --------------------------------------------------------------------


class PolicyStore(Protocol):
    """What the syncer reads (backed by policies.service in a read-only unit of work)."""

    def load(self) -> tuple[int, list[str]]: ...

    def head_version(self) -> int: ...

    def changes_since(self, version: int) -> PolicyChange: ...


class PolicySyncer:
    """The thread keeping ``target`` at the store's newest version."""

    def __init__(
        self,
        store: PolicyStore,
        *,
        redis_url: str | None,
        target: PolicyRuntime = runtime,
        poll_seconds: float | None = None,
    ) -> None:
        self._store = store
        self._redis_url = redis_url
        self._target = target
        self._poll = poll_seconds or (
            POLL_SECONDS_WITH_REDIS if redis_url else POLL_SECONDS_WITHOUT_REDIS
        )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pubsub: Any = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="policy-sync", daemon=True)
        _local_syncers.append(self)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self in _local_syncers:
            _local_syncers.remove(self)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._close_pubsub()

    def wake(self) -> None:
        self._wake.set()

    def catch_up(self) -> None:
        """Bring the runtime to the store's newest version: a net delta when possible."""
        local = self._target.version
        if local is None:
            self._reload()
            return
        if self._store.head_version() <= local:
            return
        change = self._store.changes_since(local)
        if change.version <= local:
            return
        if self._target.apply_delta(local, change.version, change.added, change.removed):
            log.info("policy updated", version=change.version, mode="delta")
        else:
            self._reload()

    def _reload(self) -> None:
        version, lines = self._store.load()
        self._target.load(version, lines)
        log.info("policy loaded", version=version, lines=len(lines))

    def on_message(self, data: str | bytes) -> None:
        version, change = PolicyChange.from_message(data)
        local = self._target.version
        if local is not None and version <= local:
            return
        if (
            change is not None
            and local is not None
            and change.previous_version == local
            and self._target.apply_delta(local, version, change.added, change.removed)
        ):
            log.info("policy updated", version=version, mode="published delta")
            return
        self.catch_up()

    def _run(self) -> None:
        next_poll = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_poll or self._wake.is_set():
                    self._wake.clear()
                    self.catch_up()
                    next_poll = time.monotonic() + self._poll
                wait = max(0.0, min(self._poll, next_poll - time.monotonic()))
                if not self._listen(wait):
                    self._wake.wait(wait)
            except Exception as exc:
                log.warning("policy sync failed; retrying", error=type(exc).__name__)
                self._close_pubsub()
                next_poll = time.monotonic() + POLL_SECONDS_WITHOUT_REDIS
                self._stop.wait(POLL_SECONDS_WITHOUT_REDIS)

    def _listen(self, wait: float) -> bool:
        """Wait up to ``wait`` seconds for one published change; False without Redis."""
        if not self._redis_url:
            return False
        if self._pubsub is None:
            import redis

            client = redis.Redis.from_url(
                self._redis_url, socket_connect_timeout=1.0, health_check_interval=10
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            pubsub.subscribe(CHANNEL)
            self._pubsub = pubsub
            # Changes made while we were not subscribed are only in the database.
            self.catch_up()
        message = self._pubsub.get_message(timeout=min(wait, 0.25))
        if message is not None and message.get("type") == "message":
            self.on_message(message["data"])
        return True

    def _close_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            import redis

            with contextlib.suppress(redis.RedisError):
                pubsub.close()
