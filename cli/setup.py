"""`rampart init` and `rampart serve`: from an empty directory to a running control plane."""

from __future__ import annotations

import typer

from cli.output import JsonOption, cli_errors, print_json, stdout
from core.bootstrap import InitReport, initialize
from core.settings import get_settings


def _print_report(report: InitReport) -> None:
    if report.created:
        for item in report.created:
            stdout.print(f"created {item}")
    else:
        stdout.print("already initialized; nothing to do")
    stdout.print(f"data directory: {report.data_dir}")
    stdout.print(f"database: {report.database}")
    stdout.print(f"key management: {report.kms}")


def init(json_output: bool = JsonOption) -> None:
    """Create the data directory, migrate the database and create keys. Idempotent."""
    with cli_errors():
        report = initialize(get_settings())
    if json_output:
        print_json({**report.__dict__, "fresh": report.fresh})
    else:
        _print_report(report)


def serve(
    host: str = typer.Option(None, help="Bind address (default: RAMPART_HOST, 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default: RAMPART_PORT, 8000)."),
    workers: int = typer.Option(None, help="Worker processes (default: RAMPART_WORKERS, 1)."),
) -> None:
    """Serve the control plane; on a fresh data directory, initialize first."""
    import uvicorn

    settings = get_settings()
    with cli_errors():
        report = initialize(settings)
    if report.created:
        _print_report(report)
    uvicorn.run(
        "server.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
        log_config=None,
        access_log=settings.access_log,
        proxy_headers=False,
        server_header=False,
    )
