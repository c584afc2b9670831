"""After-commit delivery of newly accepted runs: wake this process's workers at once, and
publish to the broker when the distributed engine is on. Nothing is sent for a rolled-back
transaction, which is what makes ``enqueue`` a transactional outbox."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import event
from sqlalchemy.orm import Session

from core.clock import utcnow

_PENDING = "rampart_jobs_pending"
Publisher = Callable[[list[tuple[uuid.UUID, str]]], None]

_wakeup = threading.Event()
_publisher: Publisher | None = None


def set_publisher(publisher: Publisher | None) -> None:
    """Install the broker publisher of this process (None: database polling only)."""
    global _publisher
    _publisher = publisher


def publishes_on_commit() -> bool:
    return _publisher is not None


def wakeup_event() -> threading.Event:
    """Set when runs were committed in this process; local workers wait on it between polls."""
    return _wakeup


def remember(session: Session, run_id: uuid.UUID, queue: str, run_at: datetime) -> None:
    session.info.setdefault(_PENDING, []).append((run_id, queue, run_at))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending: list[tuple[uuid.UUID, str, datetime]] = session.info.pop(_PENDING, [])
    if not pending:
        return
    _wakeup.set()
    publisher = _publisher
    if publisher is not None:
        now = utcnow()
        # Future runs are published by the sweeper when they fall due.
        due = [(run_id, queue) for run_id, queue, run_at in pending if run_at <= now]
        if due:
            publisher(due)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
