"""`python -m server`: the serving process. `rampart serve` sets up (migrations, keys, first
admin) and then execs into this, so the running server carries none of the set-up's imports
(alembic, the CLI) in its memory.

The HTTP server is granian (ASGI, uvloop): measured against uvicorn with uvloop and httptools on
the same app and workers, it serves the same requests 1.2-2.4x faster here, because its HTTP
parsing and socket work run in Rust threads outside the GIL (docs/dependencies.md,
benchmarks/bench_asgi_servers.py)."""

from __future__ import annotations

import argparse
import os
import sys

from granian.constants import Interfaces, Loops
from granian.log import LogLevels
from granian.server import Server

from core.logging import configure_logging
from core.settings import (
    InvalidSettings,
    Settings,
    get_settings,
    issuer_mismatch,
    refuse_insecure_production,
)


def _settings_for(host: str | None, port: int | None) -> Settings:
    """The settings with the bind address given on the command line: set in the environment,
    so the app factory (in every worker process) derives the same issuer from them."""
    if host:
        os.environ["RAMPART_HOST"] = host
    if port:
        os.environ["RAMPART_PORT"] = str(port)
    get_settings.cache_clear()
    settings = get_settings()
    refuse_insecure_production(settings, serving=True)
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m server")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--workers", type=int)
    args = parser.parse_args()
    try:
        settings = _settings_for(args.host, args.port)
    except InvalidSettings as exc:
        sys.stderr.write("".join(f"error: {problem}\n" for problem in exc.problems))
        raise SystemExit(1) from None
    warning = issuer_mismatch(settings)
    if warning:
        sys.stderr.write(f"warning: {warning}\n")
    configure_logging(settings)  # the supervisor's own lines, as each worker's, in one format
    Server(
        "server.app:create_app",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=args.workers or settings.workers,
        loop=Loops.uvloop,
        websockets=False,
        log_level=LogLevels(settings.log_level.lower()),
        log_dictconfig=GRANIAN_LOGGING,
        log_access=settings.access_log,
        respawn_failed_workers=True,
    ).serve()


# granian's loggers keep no handler of their own: their records reach core.logging's pipeline
# (one JSON line each, masked). The access line has no query string, where secrets can travel.
GRANIAN_LOGGING = {
    "handlers": {},
    "formatters": {},
    "loggers": {
        "_granian": {"handlers": [], "propagate": True},
        "granian.access": {"handlers": [], "propagate": True},  # at the root's level
    },
}


if __name__ == "__main__":
    main()
