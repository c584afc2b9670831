"""Prometheus metrics of the job system (default registry, served at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RUNS = Counter(
    "rampart_job_runs",
    "Finished job attempts by outcome (succeeded, retrying, failed, lost).",
    ["job", "outcome"],
)
FAILURES = Counter("rampart_job_failures", "Failed job attempts.", ["job"])
ALERTS = Counter("rampart_job_alerts", "Alerts raised for jobs that keep failing.", ["job"])
ENQUEUED = Counter("rampart_jobs_enqueued", "Runs accepted by enqueue in this process.", ["job"])
DURATION = Histogram(
    "rampart_job_duration_seconds",
    "Time spent running a job attempt.",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800),
)
START_LAG = Histogram(
    "rampart_job_start_lag_seconds",
    "From a run falling due to a worker starting it.",
    ["job"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60),
)
SLOT_DRIFT = Histogram(
    "rampart_job_schedule_drift_seconds",
    "From a schedule slot's time to the scheduler firing it.",
    ["schedule"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 30),
)
QUEUE_DEPTH = Gauge("rampart_job_queue_depth", "Runs waiting (queued and due).", ["queue"])
QUEUE_LAG = Gauge(
    "rampart_job_queue_lag_seconds", "Age of the oldest due run still waiting.", ["queue"]
)
RUNNING = Gauge("rampart_job_running", "Runs being worked on (all workers).", ["queue"])
