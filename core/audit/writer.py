"""Group commit for the audit ledger: one writer thread per process chains the events of many
requests under ONE chain-head lock and commits them in ONE transaction, then releases each
waiting caller. A caller's entry is committed before :func:`record_event_durably` returns (or
its future resolves), so "audited before answered" holds; the lock and the commit (fsync on
PostgreSQL) are paid per batch instead of per event.

Two kinds of submission share a batch:

* an event that is a fact on its own (a token issued): :func:`submit_event`;
* an audited write (:meth:`AuditWriter.submit_work`): a function that changes data in the
  batch's session and returns its result with the events describing it. Its rows and its
  entries commit in the same transaction, so neither exists without the other; a hot path (a
  value tokenized) pays one commit per batch instead of one per request.

If a batch fails, each submission is retried in its own transaction, so one bad write fails
alone and the others still commit. Anything else keeps using
:func:`core.audit.service.record_event` inside its own unit of work.
"""

from __future__ import annotations

import asyncio
import contextvars
import fcntl
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeVar, Unpack

from sqlalchemy.orm import Session, sessionmaker

from core.audit.service import EventFields, PreparedEvent, append_prepared, prepare_event
from core.database import get_sessionmaker, unit_of_work
from core.errors import DatabaseUnavailable, RampartError, ServiceUnavailable
from core.logging import get_logger

log = get_logger(__name__)

T = TypeVar("T")
# Runs in the writer's transaction (flush, never commit); returns its result and its events.
AuditedWork = Callable[[Session], tuple[T, Sequence[PreparedEvent]]]

# Bounds one transaction's size (and the wait of the first event of a huge burst).
MAX_BATCH = 512
DEFAULT_TIMEOUT_SECONDS = 30.0


@dataclass(slots=True)
class _Submission:
    work: AuditedWork[Any]
    # An event on its own resolves to its seq; an audited write to the work's result.
    wants_seq: bool
    future: Future[Any] | None = None  # a thread waits on it
    waiter: asyncio.Future[Any] | None = None  # an event loop awaits it


class AuditWriter:
    """Commits submitted events and audited writes in batches on its own thread, with sessions
    from ``factory``."""

    def __init__(self, factory: sessionmaker[Session], *, max_batch: int = MAX_BATCH) -> None:
        self.factory = factory
        self.max_batch = max_batch
        self._pending: deque[_Submission] = deque()
        self._wakeup = threading.Condition()
        self._closed = False
        self._lock_path = _sqlite_lock_path(factory)
        self._lock_file: BinaryIO | None = None
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()
        self.batches = 0  # observability and tests: how many transactions were used

    def submit(self, event: PreparedEvent) -> Future[int]:
        """Queue ``event``; the future resolves to its ``seq`` once committed, or raises."""
        future: Future[int] = Future()
        self._queue(_Submission(_append_only(event), wants_seq=True, future=future))
        return future

    async def submit_async(self, event: PreparedEvent) -> int:
        """:meth:`submit` for a caller on an event loop; the loop stays free meanwhile."""
        waiter = asyncio.get_running_loop().create_future()
        self._queue(_Submission(_append_only(event), wants_seq=True, waiter=waiter))
        return int(await _within_timeout(waiter))

    def submit_work(self, work: AuditedWork[T]) -> Future[T]:
        """Queue an audited write; the future resolves to its result once its rows and events
        are committed, or raises: the work's own RampartError as is, anything else as
        DatabaseUnavailable. The work may run twice (a failed batch is retried one by one), so
        it must draw anything random again rather than keep state between runs. It runs in the
        submitter's context (acting context, log fields), on the writer's thread."""
        future: Future[T] = Future()
        self._queue(_Submission(_in_context(work), wants_seq=False, future=future))
        return future

    async def submit_work_async(self, work: AuditedWork[T]) -> T:
        """:meth:`submit_work` for a caller on an event loop. The waiters of one loop are woken
        by one call per batch, not one cross-thread wake-up each."""
        waiter: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue(_Submission(_in_context(work), wants_seq=False, waiter=waiter))
        return await _within_timeout(waiter)

    def _queue(self, submission: _Submission) -> None:
        with self._wakeup:
            if self._closed:
                raise DatabaseUnavailable("the audit writer is closed")
            self._pending.append(submission)
            if len(self._pending) == 1:  # the writer waits only on an empty queue
                self._wakeup.notify()

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then stop the thread."""
        with self._wakeup:
            self._closed = True
            self._wakeup.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _take_batch(self) -> list[_Submission] | None:
        with self._wakeup:
            while not self._pending and not self._closed:
                self._wakeup.wait()
            if not self._pending:
                return None
            count = min(len(self._pending), self.max_batch)
            return [self._pending.popleft() for _ in range(count)]

    def _run(self) -> None:
        try:
            while (batch := self._take_batch()) is not None:
                self._commit(batch)
        finally:
            if self._lock_file is not None:
                self._lock_file.close()

    def _commit(self, batch: list[_Submission]) -> None:
        try:
            outcomes = self._run_in_one_transaction(batch)
        except Exception as exc:
            if len(batch) > 1 and not isinstance(exc, ServiceUnavailable):
                # One submission's own failure: find it, the others still commit. (An outage of
                # the database or the KMS fails them all at once instead of once each.)
                for submission in batch:
                    self._commit([submission])
                return
            log.error("audit batch not committed", submissions=len(batch), error=type(exc).__name__)
            failure = exc if isinstance(exc, RampartError) else _unavailable(exc)
            # Every waiter learns it failed; none is left hanging.
            _settle(batch, [(None, failure)] * len(batch))
            return
        self.batches += 1
        _settle(
            batch,
            [
                (seqs[0] if submission.wants_seq else result, None)
                for submission, (result, seqs) in zip(batch, outcomes, strict=True)
            ],
        )

    def _run_in_one_transaction(self, batch: list[_Submission]) -> list[tuple[Any, list[int]]]:
        """Every work, their deferred writes, then all their events under one chain-head lock,
        then one commit."""
        with self._turn(), unit_of_work(self.factory) as session:
            session.info[_SHARED] = len(batch) > 1
            results: list[Any] = []
            events: list[PreparedEvent] = []
            counts: list[int] = []
            for submission in batch:
                result, produced = submission.work(session)
                results.append(result)
                events.extend(produced)
                counts.append(len(produced))
            for flush in session.info.pop(_AT_BATCH_END, {}).values():
                flush(session)
            rows = append_prepared(session, events)
        seqs = iter(int(row["seq"]) for row in rows)
        return [
            (result, [next(seqs) for _ in range(count)])
            for result, count in zip(results, counts, strict=True)
        ]

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """SQLite: the writers of all processes queue on a file lock before taking the write
        lock. SQLite's own busy handler polls with growing sleeps (up to 100 ms), so one
        process's writer could starve another's; a blocking ``flock`` wakes the next in line
        as soon as the lock is free. PostgreSQL queues on the chain-head row lock already."""
        if self._lock_path is None:
            yield
            return
        if self._lock_file is None:  # opened once: only this thread takes turns with it
            self._lock_file = open(self._lock_path, "a+b")  # noqa: SIM115 - closed by _run
        fcntl.flock(self._lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)


async def _within_timeout(waiter: asyncio.Future[T]) -> T:
    """A stuck writer fails its waiters (503) instead of holding them forever; what it commits
    later is still on record."""
    # A timer on the loop rather than asyncio.wait_for, which wraps every wait in a task of its
    # own. Cancelling the request (client gone) cancels ``waiter``; the writer skips it.
    timer = waiter.get_loop().call_later(DEFAULT_TIMEOUT_SECONDS, _give_up, waiter)
    try:
        return await waiter
    finally:
        timer.cancel()


def _give_up(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(DatabaseUnavailable("the audit ledger did not commit in time"))


def _append_only(event: PreparedEvent) -> AuditedWork[None]:
    return lambda _session: (None, (event,))


def _in_context(work: AuditedWork[T]) -> AuditedWork[T]:
    submitted = contextvars.copy_context()
    return lambda session: submitted.run(work, session)


Settlement = tuple[Any, BaseException | None]


def _settle(batch: list[_Submission], settlements: list[Settlement]) -> None:
    """Hand each submission its value or error: futures directly, event-loop waiters in one
    thread-safe call per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Settlement]]] = {}
    for submission, settlement in zip(batch, settlements, strict=True):
        if submission.future is not None:
            value, error = settlement
            if error is None:
                submission.future.set_result(value)
            else:
                submission.future.set_exception(error)
        elif submission.waiter is not None:
            loop = submission.waiter.get_loop()
            by_loop.setdefault(loop, []).append((submission.waiter, settlement))
    for loop, waiters in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle_waiters, waiters)
        except RuntimeError:  # the loop closed meanwhile: nobody is waiting any more
            continue


def _settle_waiters(waiters: list[tuple[asyncio.Future[Any], Settlement]]) -> None:
    for waiter, (value, error) in waiters:
        if waiter.done():  # the request was cancelled (client gone)
            continue
        if error is None:
            waiter.set_result(value)
        else:
            waiter.set_exception(error)


_SHARED = "rampart.audit_writer.shared"
_AT_BATCH_END = "rampart.audit_writer.at_batch_end"


def shares_batch(session: Session) -> bool:
    """True when ``session`` is a group commit's transaction shared by several submissions: a
    work may then leave its rows to one statement for the whole batch (:func:`at_batch_end`)."""
    return bool(session.info.get(_SHARED))


def at_batch_end(session: Session, key: str, flush: Callable[[Session], None]) -> None:
    """Run ``flush`` once, after every work of the batch and before its events are appended
    (one ``flush`` per ``key``). If it raises, the batch rolls back and each submission is run
    again alone, where :func:`shares_batch` is False: a bulk write that cannot tell which row
    failed (a unique key taken) raises, and each work then writes its own rows its careful way."""
    session.info.setdefault(_AT_BATCH_END, {}).setdefault(key, flush)


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
    return await get_audit_writer().submit_async(prepare_event(**fields))
