"""`python -m server`: the serving process. `rampart serve` sets up (migrations, keys, first
admin) and then execs into this, so the running server carries none of the set-up's imports
(alembic, the CLI) in its memory."""

from __future__ import annotations

import argparse
import os
import sys

import uvicorn

from core.settings import (
    InvalidSettings,
    Settings,
    get_settings,
    issuer_mismatch,
    refuse_insecure_production,
)


def _settings_for(host: str | None, port: int | None) -> Settings:
    """The settings with the bind address given on the command line: set in the environment,
    so uvicorn's app factory (in every worker process) derives the same issuer from them."""
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
    uvicorn.run(
        "server.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=args.workers or settings.workers,
        log_config=None,
        access_log=settings.access_log,
        proxy_headers=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
