"""`rampart worker`: run background jobs apart from the API servers, on the configured engine
(RAMPART_JOBS_ENGINE=dramatiq for Dramatiq on Redis, or database polling)."""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import Annotated

import typer

from cli.output import cli_errors
from core.settings import get_settings, refuse_insecure_production

# The jobs engine and logging are imported inside the command: `--help` imports no SQLAlchemy
# (tests/cli/test_startup.py).


def worker(
    concurrency: int | None = typer.Option(
        None, "--concurrency", min=1, help="Worker threads (default RAMPART_JOBS_CONCURRENCY)."
    ),
    queues: Annotated[
        list[str] | None,
        typer.Option("--queues", help="Queues to work (repeatable; default RAMPART_JOBS_QUEUES)."),
    ] = None,
    scheduler: bool = typer.Option(
        True, "--scheduler/--no-scheduler", help="Also fire schedule slots (safe on every replica)."
    ),
) -> None:
    """Work jobs until SIGTERM or SIGINT; running jobs get the lease time to finish.
    RAMPART_ENV=production refuses insecure settings, one line each."""
    with cli_errors():
        from cli.jobs import load_declared_jobs
        from core.jobs import start_worker
        from core.logging import configure_logging

        settings = get_settings()
        refuse_insecure_production(settings, serving=False)
        configure_logging(settings)
        load_declared_jobs()
        runtime = start_worker(
            settings,
            concurrency=concurrency,
            queues=tuple(queues) if queues else None,
            scheduler=scheduler,
        )

    def shutdown(signum: int, _frame: FrameType | None) -> None:
        runtime.request_stop()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    sys.stderr.write(f"worker started ({runtime.config.engine} engine)\n")
    sys.stderr.flush()
    runtime.wait()
    runtime.stop(timeout=runtime.config.lease_seconds)


app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command()(worker)

if __name__ == "__main__":
    app()
