"""The distributed engine: Dramatiq on Redis. The database row stays the source of truth; a
broker message only carries a run id, so the same job functions run on both engines and a lost
message costs latency, never the run (the sweeper re-publishes due runs)."""

from __future__ import annotations

import threading
import uuid

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy.orm import Session, sessionmaker

from core.database import unit_of_work
from core.errors import ServiceUnavailable
from core.jobs import queue
from core.jobs.config import JobsConfig
from core.jobs.registry import all_jobs
from core.jobs.runner import execute_run
from core.jobs.workers import LeaseHeartbeat, new_owner_id
from core.logging import get_logger

log = get_logger(__name__)

ACTOR_NAME = "rampart_run_job"


class DramatiqEngine:
    """Publishes run ids to Redis and, in `rampart worker`, consumes them with Dramatiq's worker."""

    def __init__(self, config: JobsConfig, factory: sessionmaker[Session] | None = None) -> None:
        if not config.broker_url:
            raise ServiceUnavailable("the Dramatiq engine needs a broker URL")
        self.config = config
        self.factory = factory
        # No Dramatiq middleware: retries, time limits and results live in the database rows.
        self.broker = RedisBroker(  # type: ignore[no-untyped-call]
            url=config.broker_url, namespace=config.broker_namespace, middleware=[]
        )
        self.actor: dramatiq.Actor[[str], None] = dramatiq.Actor(
            self._handle,
            broker=self.broker,
            actor_name=ACTOR_NAME,
            queue_name="default",
            priority=0,
            options={},
        )
        self.owner = new_owner_id()
        self.heartbeat = LeaseHeartbeat(config, self.owner, factory)
        self._worker: dramatiq.Worker | None = None
        self._declared: set[str] = set()
        self._lock = threading.Lock()

    def publish(self, runs: list[tuple[uuid.UUID, str]]) -> None:
        """Send one message per run; failures are logged, the sweeper sends them again later."""
        for run_id, queue_name in runs:
            try:
                self._declare(queue_name)
                self.broker.enqueue(
                    dramatiq.Message(
                        queue_name=queue_name,
                        actor_name=ACTOR_NAME,
                        args=(str(run_id),),
                        kwargs={},
                        options={},
                    )
                )
            except Exception:
                log.exception("could not publish a job run to the broker")

    def sweep(self) -> int:
        """Re-publish due runs whose message was never sent or may be lost (at-least-once)."""
        with unit_of_work(self.factory) as session:
            due = queue.due_unpublished(
                session, republish_after=self.config.republish_after_seconds
            )
        self.publish(due)
        return len(due)

    def start_worker(self, *, concurrency: int, queues: tuple[str, ...]) -> None:
        for queue_name in queues:
            self._declare(queue_name)
        self.heartbeat.start()
        self._worker = dramatiq.Worker(
            self.broker, queues=set(queues), worker_threads=concurrency, worker_timeout=100
        )
        self._worker.start()

    def stop(self, timeout: float = 10.0) -> None:
        if self._worker is not None:
            self._worker.stop(timeout=int(timeout * 1000))
            self._worker = None
        self.heartbeat.stop(timeout)
        self.broker.close()

    def _declare(self, queue_name: str) -> None:
        with self._lock:
            if queue_name not in self._declared:
                self.broker.declare_queue(queue_name)
                self._declared.add(queue_name)

    def _handle(self, run_id_text: str) -> None:
        run_id = uuid.UUID(run_id_text)
        known = {spec.name for spec in all_jobs()}
        with unit_of_work(self.factory) as session:
            job_name = queue.job_name_of(session, run_id)
            if job_name is None:
                return  # pruned since the message was sent
            if job_name not in known:
                log.error("message for a job this worker does not know", job=job_name)
                return
            claimed = queue.claim_run(
                session, run_id, owner=self.owner, lease_seconds=self.config.lease_seconds
            )
        if not claimed:
            return  # a duplicate message, a paused job, or another worker has it
        self.heartbeat.track(run_id)
        try:
            execute_run(run_id, owner=self.owner, config=self.config, factory=self.factory)
        finally:
            self.heartbeat.untrack(run_id)
