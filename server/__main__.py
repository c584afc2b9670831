"""`python -m server`: the serving process. `rampart serve` sets up (migrations, keys, first
admin) and then execs into this, so the running server carries none of the set-up's imports
(alembic, the CLI) in its memory."""

from __future__ import annotations

import argparse

import uvicorn

from core.settings import get_settings


def main() -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m server")
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    parser.add_argument("--workers", type=int, default=settings.workers)
    args = parser.parse_args()
    uvicorn.run(
        "server.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=settings.access_log,
        proxy_headers=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
