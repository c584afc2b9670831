"""The job system's view of the ``RAMPART_JOBS_*`` settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.errors import ValidationFailed
from core.settings import Settings

Engine = Literal["database", "dramatiq"]
CatchUp = Literal["none", "latest", "all"]


@dataclass(frozen=True, slots=True)
class JobsConfig:
    """How this process runs jobs (from ``Settings.jobs_*``)."""

    engine: Engine = "database"
    broker_url: str | None = None
    broker_namespace: str = "rampart"
    concurrency: int = 2
    queues: tuple[str, ...] = ("default",)
    poll_seconds: float = 0.5
    lease_seconds: float = 30.0
    max_scheduler_sleep: float = 1.0
    misfire_grace_seconds: float = 30.0
    max_catch_up_slots: int = 100
    republish_after_seconds: float = 10.0
    alert_after_failures: int = 3
    run_retention_days: int = 30
    metrics_refresh_seconds: float = 5.0
    modules: tuple[str, ...] = ()

    @property
    def heartbeat_seconds(self) -> float:
        return max(0.05, self.lease_seconds / 3)

    @classmethod
    def from_settings(cls, settings: Settings) -> JobsConfig:
        broker_url = settings.jobs_broker_url or settings.redis_url
        if settings.jobs_engine == "dramatiq" and not broker_url:
            raise ValidationFailed(
                "RAMPART_JOBS_ENGINE=dramatiq needs RAMPART_JOBS_BROKER_URL or RAMPART_REDIS_URL"
            )
        return cls(
            engine=settings.jobs_engine,
            broker_url=broker_url,
            broker_namespace=settings.jobs_broker_namespace,
            concurrency=settings.jobs_concurrency,
            queues=_names(settings.jobs_queues),
            poll_seconds=settings.jobs_poll_seconds,
            lease_seconds=settings.jobs_lease_seconds,
            max_scheduler_sleep=settings.jobs_max_scheduler_sleep,
            misfire_grace_seconds=settings.jobs_misfire_grace_seconds,
            max_catch_up_slots=settings.jobs_max_catch_up_slots,
            republish_after_seconds=settings.jobs_republish_after_seconds,
            alert_after_failures=settings.jobs_alert_after_failures,
            run_retention_days=settings.jobs_run_retention_days,
            metrics_refresh_seconds=settings.jobs_metrics_refresh_seconds,
            modules=_names(settings.jobs_modules),
        )


def _names(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())
