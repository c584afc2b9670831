"""Group commit for the audit ledger: one writer thread per process chains the events of many
requests under ONE chain-head lock and commits them in ONE transaction, then releases each
waiting caller. A caller's entry is committed before :func:`record_event_durably` returns (or
its future resolves), so "audited before answered" holds; the lock and the commit (fsync on
PostgreSQL) are paid per batch instead of per event.

Use it for high-rate events that are facts on their own (a token issued, a value tokenized).
A change to other data keeps using :func:`core.audit.service.record_event` inside its own
transaction, so the change and its entry commit or roll back together.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Unpack

from sqlalchemy.orm import Session, sessionmaker

from core.audit.service import EventFields, PreparedEvent, append_prepared, prepare_event
from core.database import get_sessionmaker, unit_of_work
from core.errors import DatabaseUnavailable
from core.logging import get_logger

log = get_logger(__name__)

# Bounds one transaction's size (and the wait of the first event of a huge burst).
MAX_BATCH = 512
DEFAULT_TIMEOUT_SECONDS = 30.0


class AuditWriter:
    """Appends submitted events in batches on its own thread, with sessions from ``factory``."""

    def __init__(self, factory: sessionmaker[Session], *, max_batch: int = MAX_BATCH) -> None:
        self.factory = factory
        self.max_batch = max_batch
        self._pending: deque[tuple[PreparedEvent, Future[int]]] = deque()
        self._wakeup = threading.Condition()
        self._closed = False
        self._lock_path = _sqlite_lock_path(factory)
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()
        self.batches = 0  # observability and tests: how many transactions were used

    def submit(self, event: PreparedEvent) -> Future[int]:
        """Queue ``event``; the future resolves to its ``seq`` once committed, or raises."""
        future: Future[int] = Future()
        with self._wakeup:
            if self._closed:
                raise DatabaseUnavailable("the audit writer is closed")
            self._pending.append((event, future))
            self._wakeup.notify()
        return future

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then stop the thread."""
        with self._wakeup:
            self._closed = True
            self._wakeup.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _take_batch(self) -> list[tuple[PreparedEvent, Future[int]]] | None:
        with self._wakeup:
            while not self._pending and not self._closed:
                self._wakeup.wait()
            if not self._pending:
                return None
            count = min(len(self._pending), self.max_batch)
            return [self._pending.popleft() for _ in range(count)]

    def _run(self) -> None:
        while (batch := self._take_batch()) is not None:
            self._commit(batch)

    def _commit(self, batch: list[tuple[PreparedEvent, Future[int]]]) -> None:
        try:
            with self._turn(), unit_of_work(self.factory) as session:
                rows = append_prepared(session, [event for event, _ in batch])
        except Exception as exc:  # every waiter learns the batch failed; none is left hanging
            log.error("audit batch not committed", events=len(batch), error=type(exc).__name__)
            failure = exc if isinstance(exc, DatabaseUnavailable) else _unavailable(exc)
            for _, future in batch:
                future.set_exception(failure)
            return
        self.batches += 1
        for (_, future), row in zip(batch, rows, strict=True):
            future.set_result(int(row["seq"]))

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """SQLite: the writers of all processes queue on a file lock before taking the write
        lock. SQLite's own busy handler polls with growing sleeps (up to 100 ms), so one
        process's writer could starve another's; a blocking ``flock`` wakes the next in line
        as soon as the lock is free. PostgreSQL queues on the chain-head row lock already."""
        if self._lock_path is None:
            yield
            return
        with open(self._lock_path, "a+b") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)


def _sqlite_lock_path(factory: sessionmaker[Session]) -> str | None:
    bind = factory.kw.get("bind")
    url = getattr(bind, "url", None)
    if url is None or url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return f"{url.database}.audit-lock"


def _unavailable(exc: Exception) -> DatabaseUnavailable:
    error = DatabaseUnavailable("the audit ledger could not be written")
    error.__cause__ = exc
    return error


_lock = threading.Lock()
_writer: AuditWriter | None = None


def get_audit_writer(factory: sessionmaker[Session] | None = None) -> AuditWriter:
    """This process's writer for ``factory`` (default: the configured database). A writer for
    another factory (settings changed, tests) is closed and replaced."""
    global _writer
    factory = factory or get_sessionmaker()
    writer = _writer
    if writer is not None and writer.factory is factory:
        return writer
    with _lock:
        if _writer is None or _writer.factory is not factory:
            if _writer is not None:
                _writer.close(timeout=0)
            _writer = AuditWriter(factory)
        return _writer


def close_audit_writer() -> None:
    """Commit what is queued and stop the writer (shutdown, tests)."""
    global _writer
    with _lock:
        writer, _writer = _writer, None
    if writer is not None:
        writer.close()


def _forget_after_fork() -> None:
    # The child does not inherit the thread: a fresh writer starts on first use.
    global _writer, _lock
    _writer = None
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


def submit_event(**fields: Unpack[EventFields]) -> Future[int]:
    """Validate now (SecretRefused, ValidationFailed raise here, in the caller, with the
    caller's acting context) and queue; the future resolves to the entry's ``seq`` once its
    batch is committed, or raises DatabaseUnavailable."""
    return get_audit_writer().submit(prepare_event(**fields))


def record_event_durably(
    *, timeout: float = DEFAULT_TIMEOUT_SECONDS, **fields: Unpack[EventFields]
) -> int:
    """Append one event through the group commit and wait until it is committed (for sync
    callers, e.g. in the threadpool); returns its ``seq``."""
    future = submit_event(**fields)
    try:
        return future.result(timeout)
    except TimeoutError as exc:
        raise DatabaseUnavailable("the audit ledger did not commit in time") from exc


async def record_event_committed(**fields: Unpack[EventFields]) -> int:
    """Like :func:`record_event_durably` for async callers: the event loop stays free while
    the batch commits."""
    future = submit_event(**fields)
    return await asyncio.wrap_future(future)
