"""Background jobs: enqueue-to-start latency (p50/p99) and jobs/s on the embedded engine (SQLite,
PostgreSQL) and on Dramatiq + Redis through a real `rampart worker`, beside a bare Dramatiq actor
on the same Redis; scheduling drift per slot of an every-second schedule (target < 1 s)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.harness import Figure, Size, percentile, rate
from benchmarks.servers import scratch_postgres
from core import migrations
from core.database import build_engine, unit_of_work
from core.jobs import JobResult, JobsConfig, JobsRuntime, Retry, enqueue, job, notify, schedule
from core.jobs.distributed import DramatiqEngine
from core.jobs.models import JobRun
from core.jobs.registry import forget_schedule

PG_ADMIN_URL = os.environ.get(
    "RAMPART_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("RAMPART_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
REPO = Path(__file__).resolve().parents[1]


class BenchArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int


@job(name="bench.noop", args_model=BenchArgs, retry=Retry(max_attempts=1))
def noop(session: Session, args: BenchArgs) -> JobResult:
    """Does nothing: what is measured is the job system around it."""
    return None


@contextmanager
def _sqlite() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="rampart-bench-jobs-") as directory:
        url = f"sqlite:///{Path(directory) / 'jobs.db'}"
        engine = build_engine(url)
        migrations.upgrade(engine)
        engine.dispose()
        yield url


@contextmanager
def _postgres() -> Iterator[str]:
    with scratch_postgres("rampart_bench_jobs", PG_ADMIN_URL) as url:
        engine = build_engine(url)
        migrations.upgrade(engine)
        engine.dispose()
        yield url


def _factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=build_engine(url), expire_on_commit=False, autoflush=False)


def _wait_all_done(factory: sessionmaker[Session], expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with unit_of_work(factory) as session:
            done = session.scalar(
                select(func.count()).select_from(JobRun).where(JobRun.status == "succeeded")
            )
        if done == expected:
            return
        time.sleep(0.02)
    raise RuntimeError(f"only part of {expected} bench jobs finished in {timeout}s")


def _measure(factory: sessionmaker[Session], samples: int, batch: int) -> tuple[list[float], float]:
    """Latencies of ``samples`` runs enqueued one at a time, then jobs/s of one batch; a few
    warm-up runs first (connections, broker consumers) are not counted."""
    warmup = 5
    for n in range(warmup):
        with unit_of_work(factory) as session:
            enqueue(session, "bench.noop", {"n": -n})
        _wait_all_done(factory, n + 1, 60)
    latencies = []
    for n in range(samples):
        with unit_of_work(factory) as session:
            run_id = enqueue(session, "bench.noop", {"n": n})
        _wait_all_done(factory, warmup + n + 1, 30)
        with unit_of_work(factory) as session:
            run = session.get_one(JobRun, run_id)
            started = run.started_at or run.enqueued_at
            latencies.append((started - run.enqueued_at).total_seconds())
    with unit_of_work(factory) as session:
        for n in range(batch):
            enqueue(session, "bench.noop", {"n": n})
    committed = time.perf_counter()
    _wait_all_done(factory, warmup + samples + batch, 300)
    return latencies, rate(batch, time.perf_counter() - committed)


@dataclass(frozen=True)
class Anchor:
    name: str
    p50_ms: float
    p99_ms: float
    per_second: float


def _figures(
    label: str, latencies: list[float], per_second: float, anchor: Anchor | None = None
) -> list[Figure]:
    name = anchor.name if anchor else None
    return [
        Figure(
            f"jobs {label}: enqueue-to-start p50",
            percentile(latencies, 50) * 1000,
            "ms",
            anchor=name,
            anchor_value=anchor.p50_ms if anchor else None,
            higher_is_better=False,
        ),
        Figure(
            f"jobs {label}: enqueue-to-start p99",
            percentile(latencies, 99) * 1000,
            "ms",
            anchor=name,
            anchor_value=anchor.p99_ms if anchor else None,
            higher_is_better=False,
        ),
        Figure(
            f"jobs {label}: throughput",
            per_second,
            "jobs/s",
            anchor=name,
            anchor_value=anchor.per_second if anchor else None,
        ),
    ]


def _embedded(url: str, samples: int, batch: int) -> tuple[list[float], float]:
    factory = _factory(url)
    runtime = JobsRuntime(
        JobsConfig(concurrency=2), scheduler=False, workers=True, factory=factory
    ).start()
    try:
        return _measure(factory, samples, batch)
    finally:
        runtime.stop(timeout=10)


def _distributed(url: str, samples: int, batch: int) -> tuple[list[float], float]:
    namespace = f"rampart-bench-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ)
    env.update(
        RAMPART_DATABASE_URL=url,
        RAMPART_JOBS_ENGINE="dramatiq",
        RAMPART_JOBS_BROKER_URL=REDIS_URL,
        RAMPART_JOBS_BROKER_NAMESPACE=namespace,
        RAMPART_JOBS_MODULES="benchmarks.bench_jobs",
        RAMPART_SCHEDULER="off",
        PYTHONPATH=str(REPO),
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "cli.worker", "--concurrency", "4", "--no-scheduler"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    engine = DramatiqEngine(
        JobsConfig(engine="dramatiq", broker_url=REDIS_URL, broker_namespace=namespace)
    )
    try:
        if worker.stderr is not None:
            worker.stderr.readline()  # "worker started": its consumers are about to listen
        notify.set_publisher(engine.publish)
        return _measure(_factory(url), samples, batch)
    finally:
        notify.set_publisher(None)
        engine.broker.close()
        worker.terminate()
        worker.wait(timeout=60)


def _bare_dramatiq(samples: int, batch: int) -> tuple[list[float], float]:
    """The anchor: a Dramatiq actor on the same Redis, no database row, worker in this process."""
    namespace = f"rampart-bench-bare-{uuid.uuid4().hex[:8]}"
    broker = RedisBroker(url=REDIS_URL, namespace=namespace)  # type: ignore[no-untyped-call]
    started: dict[int, float] = {}
    lock = threading.Condition()

    def bare(n: int) -> None:
        with lock:
            started[n] = time.perf_counter()
            lock.notify_all()

    actor = dramatiq.Actor(
        bare, broker=broker, actor_name="bare", queue_name="default", priority=0, options={}
    )
    worker = dramatiq.Worker(broker, worker_threads=4, worker_timeout=100)
    worker.start()
    try:
        actor.send(-1)  # warm-up: the consumer is connected before anything is timed
        with lock:
            lock.wait_for(lambda: -1 in started, timeout=30)
        latencies = []
        for n in range(samples):
            sent = time.perf_counter()
            actor.send(n)
            with lock:
                lock.wait_for(lambda n=n: n in started, timeout=30)  # type: ignore[misc]
            latencies.append(started[n] - sent)
        began = time.perf_counter()
        for n in range(samples, samples + batch):
            actor.send(n)
        with lock:
            lock.wait_for(lambda: len(started) == samples + batch + 1, timeout=300)
        return latencies, rate(batch, time.perf_counter() - began)
    finally:
        worker.stop()
        broker.close()


def _drift(url: str, seconds: float) -> list[Figure]:
    """An every-second schedule in the embedded runtime: slot -> enqueued, slot -> started."""
    factory = _factory(url)
    forget_schedule("bench.every_second")
    schedule("bench.every_second", "bench.noop", every=timedelta(seconds=1), args={"n": 0})
    runtime = JobsRuntime(JobsConfig(concurrency=2), scheduler=True, workers=True, factory=factory)
    runtime.start()
    time.sleep(seconds)
    runtime.stop(timeout=10)
    forget_schedule("bench.every_second")
    with unit_of_work(factory) as session:
        runs = list(
            session.scalars(select(JobRun).where(JobRun.schedule_name == "bench.every_second"))
        )
    fired = [(r.enqueued_at - r.scheduled_for).total_seconds() for r in runs if r.scheduled_for]
    begun = [
        (r.started_at - r.scheduled_for).total_seconds()
        for r in runs
        if r.scheduled_for and r.started_at
    ]
    notes = {"slots": len(runs)}

    def figure(name: str, seconds: float) -> Figure:
        return Figure(
            f"jobs drift: {name}",
            seconds * 1000,
            "ms",
            higher_is_better=False,
            target="< 1000 ms",
            notes=notes,
        )

    return [
        figure("slot to fired, p50 (PG, 1 s schedule)", percentile(fired, 50)),
        figure("slot to fired, max", max(fired)),
        figure("slot to job start, p99", percentile(begun, 99)),
    ]


def run(size: Size) -> list[Figure]:
    samples, batch = size.pick((200, 2000), (30, 200), (5, 20))
    figures: list[Figure] = []
    bare_latencies, bare_rate = _bare_dramatiq(samples, batch)
    anchor = Anchor(
        "bare Dramatiq actor (Redis)",
        percentile(bare_latencies, 50) * 1000,
        percentile(bare_latencies, 99) * 1000,
        bare_rate,
    )
    with _sqlite() as url:
        figures += _figures("embedded SQLite", *_embedded(url, samples, batch))
    with _postgres() as url:
        figures += _figures("embedded PostgreSQL", *_embedded(url, samples, batch))
    with _postgres() as url:
        figures += _figures(
            "Dramatiq+Redis worker (PG)", *_distributed(url, samples, batch), anchor
        )
    with _postgres() as url:
        figures += _drift(url, size.pick(30, 6, 2))
    return figures
