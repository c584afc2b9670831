"""Starting and stopping the job system inside a process: embedded in `rampart serve` (scheduler
plus a small worker pool) or as `rampart worker` (scheduler plus the configured engine's worker)."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from core.jobs import notify
from core.jobs.config import JobsConfig
from core.jobs.scheduler import Scheduler
from core.jobs.workers import DatabaseWorkerPool
from core.logging import get_logger
from core.settings import Settings

if TYPE_CHECKING:
    from core.jobs.distributed import DramatiqEngine

log = get_logger(__name__)

BUILTIN_MODULES = ("core.jobs.builtin",)


def load_job_modules(names: Iterable[str] = ()) -> None:
    """Import the modules that declare jobs and schedules (built-ins first)."""
    for name in (*BUILTIN_MODULES, *names):
        importlib.import_module(name)


class JobsRuntime:
    """The job threads of one process; ``stop`` waits for running jobs up to a timeout."""

    def __init__(
        self,
        config: JobsConfig,
        *,
        scheduler: bool,
        workers: bool,
        concurrency: int | None = None,
        queues: tuple[str, ...] | None = None,
        factory: sessionmaker[Session] | None = None,
    ) -> None:
        self.config = config
        self.factory = factory
        self.concurrency = concurrency or config.concurrency
        self.queues = queues or config.queues
        self.scheduler = Scheduler(config, factory) if scheduler else None
        self.engine = _dramatiq_engine(config, factory) if config.engine == "dramatiq" else None
        self.pool = (
            DatabaseWorkerPool(
                config, factory=factory, queues=self.queues, concurrency=self.concurrency
            )
            if workers and self.engine is None
            else None
        )
        self._run_engine_worker = workers and self.engine is not None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._schedule, name="jobs-scheduler", daemon=True)

    def start(self) -> JobsRuntime:
        if self.engine is not None:
            notify.set_publisher(self.engine.publish)
            if self._run_engine_worker:
                self.engine.start_worker(concurrency=self.concurrency, queues=self.queues)
        if self.pool is not None:
            self.pool.start()
        if self.scheduler is not None:
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self.pool is not None:
            self.pool.stop(timeout)
        if self.engine is not None:
            notify.set_publisher(None)
            self.engine.stop(timeout)

    def request_stop(self) -> None:
        """Ask :meth:`wait` to return (safe from a signal handler); then call :meth:`stop`."""
        self._stop.set()

    def wait(self) -> None:
        """Block until ``stop`` is called (from a signal handler)."""
        self._stop.wait()

    def _schedule(self) -> None:
        scheduler = self.scheduler
        if scheduler is None:
            return
        while not self._stop.is_set():
            try:
                scheduler.tick()
                if self.engine is not None:
                    self.engine.sweep()
            except Exception:
                log.exception("scheduler tick failed")
                self._stop.wait(self.config.max_scheduler_sleep)
                continue
            self._stop.wait(scheduler.seconds_until_next())


def start_embedded(settings: Settings, modules: Iterable[str] = ()) -> JobsRuntime | None:
    """For the server's lifespan: with ``scheduler=embedded`` run the scheduler and, on the
    database engine, a small worker pool in this process; None when ``scheduler=off``.
    On the Dramatiq engine the server only schedules and publishes; `rampart worker` works."""
    if settings.scheduler == "off":
        return None
    config = JobsConfig.from_settings(settings)
    load_job_modules((*modules, *config.modules))
    return JobsRuntime(config, scheduler=True, workers=config.engine == "database").start()


def start_worker(
    settings: Settings,
    *,
    concurrency: int | None = None,
    queues: tuple[str, ...] | None = None,
    scheduler: bool = True,
    modules: Iterable[str] = (),
) -> JobsRuntime:
    """For `rampart worker`: the configured engine's worker and, unless told not to, a scheduler
    (any number of them may run: each slot still fires once)."""
    config = JobsConfig.from_settings(settings)
    load_job_modules((*modules, *config.modules))
    runtime = JobsRuntime(
        config, scheduler=scheduler, workers=True, concurrency=concurrency, queues=queues
    )
    return runtime.start()


def _dramatiq_engine(config: JobsConfig, factory: sessionmaker[Session] | None) -> DramatiqEngine:
    # Imported here: the embedded default never loads Dramatiq or the Redis client.
    from core.jobs.distributed import DramatiqEngine

    return DramatiqEngine(config, factory)
