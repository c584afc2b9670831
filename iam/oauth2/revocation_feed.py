"""Revocations told across replicas through Redis pub/sub (when RAMPART_REDIS_URL is set): once a
revoking transaction commits, its ``jti``s and holder markers are published, and every process's
subscriber thread records them in its in-memory revocations (``token_store.guard_revocations``)
at once. While its subscription is live, a process trusts its "not revoked" answers for
``FEED_TRUST_SECONDS`` instead of re-reading the database every ``REVOCATION_CACHE_SECONDS``;
the database stays the truth a lost subscription or a crashed publisher falls back on.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.orm import Session

from core.logging import get_logger
from core.settings import get_settings

log = get_logger(__name__)

CHANNEL = "rampart:oauth2:revocations"
# The backstop when a message is lost (the revoking process died between its commit and the
# publish): another process then honours the token for at most this long.
FEED_TRUST_SECONDS = 5.0
RECONNECT_SECONDS = 0.5
_PENDING = "rampart_pending_revocations"

Message = dict[str, Any]


def _configured_redis_url() -> str | None:
    return get_settings().redis_url


# Where revocations are published and heard (tests point it elsewhere).
redis_url_provider: Callable[[], str | None] = _configured_redis_url


def jti_message(jti: str, expires_at: datetime | None) -> Message:
    return {"jti": jti, "exp": expires_at.isoformat() if expires_at else None}


def holder_message(holder: str, revoked_before: datetime, keep: float) -> Message:
    return {"holder": holder, "before": revoked_before.isoformat(), "keep": keep}


def announce_after_commit(db: Session, message: Message) -> None:
    """Publish ``message`` once ``db`` commits (nothing if it rolls back)."""
    if not redis_url_provider():
        return
    pending: list[Message] | None = db.info.get(_PENDING)
    if pending is None:
        pending = db.info[_PENDING] = []
        event.listen(db, "after_commit", _after_commit)
        event.listen(db, "after_soft_rollback", _after_rollback)
    pending.append(message)


def _after_commit(db: Session) -> None:
    messages: list[Message] = db.info.pop(_PENDING, [])
    if messages:
        publish(messages)


def _after_rollback(db: Session, _previous: Any) -> None:
    db.info.pop(_PENDING, None)


_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def publish(messages: list[Message]) -> None:
    """Never raises: the other processes' database reads are the safety net."""
    url = redis_url_provider()
    if not url:
        return
    import redis  # only deployments with Redis pay for the client

    try:
        with _clients_lock:
            client = _clients.get(url)
            if client is None:
                client = _clients[url] = redis.Redis.from_url(
                    url, socket_timeout=1.0, socket_connect_timeout=1.0
                )
        client.publish(CHANNEL, orjson.dumps(messages))
    except redis.RedisError as exc:
        log.warning("revocation not published; replicas read it", error=type(exc).__name__)


def apply(data: bytes | str) -> None:
    """Record published revocations in this process's memory (idempotent)."""
    from iam.oauth2.token_store import guard_revocations

    for message in orjson.loads(data):
        if "jti" in message:
            exp = message.get("exp")
            guard_revocations.revoked_here(
                str(message["jti"]), datetime.fromisoformat(exp) if exp else None
            )
        elif "holder" in message:
            guard_revocations.holder_revoked_here(
                str(message["holder"]),
                datetime.fromisoformat(message["before"]),
                float(message["keep"]),
            )


class RevocationSubscriber:
    """The thread listening for revocations; while subscribed, answers are trusted longer."""

    def __init__(self, redis_url: str) -> None:
        self._url = redis_url
        self._stop = threading.Event()
        self.subscribed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="revocation-feed", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _trust(self, subscribed: bool) -> None:
        from iam.oauth2.token_store import REVOCATION_CACHE_SECONDS, guard_revocations

        # Either way the answers given so far may predate a missed message: drop them.
        guard_revocations.forget_answers()
        guard_revocations.ttl = FEED_TRUST_SECONDS if subscribed else REVOCATION_CACHE_SECONDS
        if subscribed:
            self.subscribed.set()
        else:
            self.subscribed.clear()

    def _run(self) -> None:
        import redis

        while not self._stop.is_set():
            pubsub = None
            try:
                client = redis.Redis.from_url(
                    self._url, socket_connect_timeout=1.0, health_check_interval=2
                )
                pubsub = client.pubsub()  # type: ignore[no-untyped-call]
                pubsub.subscribe(CHANNEL)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.25)
                    if message is None:
                        continue
                    if message.get("type") == "subscribe":
                        self._trust(True)
                    elif message.get("type") == "message":
                        apply(message["data"])
            except Exception as exc:  # any failure: distrust the memory, reconnect
                log.warning("revocation feed lost; reading the database", error=type(exc).__name__)
            finally:
                self._trust(False)
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        pubsub.close()
            self._stop.wait(RECONNECT_SECONDS)


_subscribers: dict[str, RevocationSubscriber] = {}
_subscribers_lock = threading.Lock()


def ensure_subscribed() -> None:
    """Start this process's subscriber on first use (cheap after that); no Redis: nothing."""
    url = redis_url_provider()
    if not url or url in _subscribers:
        return
    with _subscribers_lock:
        if url not in _subscribers:
            subscriber = _subscribers[url] = RevocationSubscriber(url)
            subscriber.start()


def live() -> bool:
    """True while this process hears every published revocation (its answers may be trusted)."""
    return any(subscriber.subscribed.is_set() for subscriber in _subscribers.values())
