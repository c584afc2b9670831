"""Worker threads of one process: the lease heartbeat shared by both engines, and the pool that
claims runs from the database (the embedded engine)."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.orm import Session, sessionmaker

from core.database import unit_of_work
from core.jobs import notify, queue
from core.jobs.config import JobsConfig
from core.jobs.registry import all_jobs
from core.jobs.runner import execute_run
from core.logging import get_logger

log = get_logger(__name__)


def new_owner_id() -> str:
    """Names this worker in leases: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeaseHeartbeat:
    """Extends the leases of the runs this process is working on, so only a dead process's runs
    expire and get re-run elsewhere."""

    def __init__(self, config: JobsConfig, owner: str, factory: sessionmaker[Session] | None):
        self.config = config
        self.owner = owner
        self.factory = factory
        self._active: set[uuid.UUID] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="jobs-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def track(self, run_id: uuid.UUID) -> None:
        with self._lock:
            self._active.add(run_id)

    def untrack(self, run_id: uuid.UUID) -> None:
        with self._lock:
            self._active.discard(run_id)

    def active_count(self) -> int:
        with self._lock:
            return len(self._active)

    def stop(self, timeout: float) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self.config.heartbeat_seconds):
            with self._lock:
                active = list(self._active)
            if not active:
                continue
            try:
                with unit_of_work(self.factory) as session:
                    queue.extend_leases(
                        session, active, owner=self.owner, lease_seconds=self.config.lease_seconds
                    )
            except Exception:
                log.exception("could not extend job leases")


class DatabaseWorkerPool:
    """A dispatcher thread claims due runs (SKIP LOCKED on PostgreSQL) up to the free capacity and
    hands them to ``concurrency`` threads; it sleeps until a local commit wakes it or a poll."""

    def __init__(
        self,
        config: JobsConfig,
        *,
        factory: sessionmaker[Session] | None = None,
        queues: tuple[str, ...] | None = None,
        concurrency: int | None = None,
        on_finished: Callable[[uuid.UUID, str], None] | None = None,
    ) -> None:
        self.config = config
        self.factory = factory
        self.queues = queues or config.queues
        self.concurrency = concurrency or config.concurrency
        self.owner = new_owner_id()
        self.heartbeat = LeaseHeartbeat(config, self.owner, factory)
        self.on_finished = on_finished
        self._executor = ThreadPoolExecutor(self.concurrency, thread_name_prefix="jobs-worker")
        self._stop = threading.Event()
        self._slot_freed = threading.Event()
        self._thread = threading.Thread(target=self._dispatch, name="jobs-dispatch", daemon=True)

    def start(self) -> None:
        self.heartbeat.start()
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming and wait up to ``timeout`` for running jobs; unfinished ones are re-run
        elsewhere when their lease expires."""
        self._stop.set()
        self._slot_freed.set()
        self._thread.join(timeout)
        self._executor.shutdown(wait=True, cancel_futures=True)
        self.heartbeat.stop(timeout)

    def _dispatch(self) -> None:
        wakeup = notify.wakeup_event()
        while not self._stop.is_set():
            # Cleared before counting, so a run finishing after the count still wakes the wait.
            self._slot_freed.clear()
            free = self.concurrency - self.heartbeat.active_count()
            if free <= 0:
                self._slot_freed.wait(self.config.poll_seconds)
                continue
            wakeup.clear()
            claimed: list[uuid.UUID] = []
            job_names = [spec.name for spec in all_jobs()]
            try:
                with unit_of_work(self.factory, read_only=True) as session:
                    due = queue.has_due_runs(session, queues=self.queues, job_names=job_names)
                if due:
                    with unit_of_work(self.factory) as session:
                        claimed = queue.claim_batch(
                            session,
                            owner=self.owner,
                            queues=self.queues,
                            job_names=job_names,
                            limit=free,
                            lease_seconds=self.config.lease_seconds,
                        )
            except Exception:
                log.exception("could not claim job runs")
            for run_id in claimed:
                self.heartbeat.track(run_id)
                self._executor.submit(self._work, run_id)
            if not claimed:
                wakeup.wait(self.config.poll_seconds)

    def _work(self, run_id: uuid.UUID) -> None:
        outcome = "lost"
        try:
            outcome = execute_run(
                run_id, owner=self.owner, config=self.config, factory=self.factory
            )
        except Exception:
            log.exception("job runner failed", run_id=str(run_id))
        finally:
            self.heartbeat.untrack(run_id)
            self._slot_freed.set()
            if self.on_finished is not None:
                self.on_finished(run_id, outcome)
