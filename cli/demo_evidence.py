"""The demo shop's evidence: the real compliance checks, run now exactly as `rampart compliance
run` runs them (compliance.engine: signed records, each with its ledger entry), then the demo
history before them (cli/demo_history.py).

The probes among the checks exercise the live server at the issuer (a real login, token
endpoint, vault). When none answers there, the seed starts one for the run: the real serving
process (`python -m server`, what `rampart serve` execs into) on the issuer's port, without
its scheduler, stopped when the run ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from compliance.engine import RunResult
    from core.settings import Settings

READY_SECONDS = 60.0
STOP_SECONDS = 15.0
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(slots=True)
class DemoEvidence:
    """What the evidence step did: the real run's results and the history's record count."""

    results: list[RunResult] = field(default_factory=list)
    history_records: int = 0
    server: str = ""  # "running" (found at the issuer) or "started" (for the run only)

    def statuses(self) -> dict[str, int]:
        """How many results of each status, in the order pass, fail, error, the others."""
        counts = {status: 0 for status in ("pass", "fail", "error")}
        for item in self.results:
            counts[item.status] = counts.get(item.status, 0) + 1
        return {status: n for status, n in counts.items() if n}


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _bind_address(settings: Settings) -> tuple[str, int]:
    """Where a server answering at the issuer listens: the configured host, the issuer's port.
    An issuer on another machine (a proxy's public URL) cannot be served from here."""
    from core.errors import ValidationFailed

    parts = urlsplit(settings.issuer)
    host = (parts.hostname or "").lower()
    if parts.scheme != "http" or (host not in _LOOPBACK and host != settings.host.lower()):
        raise ValidationFailed(
            f"the checks probe the live server at {settings.issuer}, which does not answer: "
            "start `rampart serve` and seed again (or seed with --no-evidence)"
        )
    return settings.host, parts.port or 80


def _last_line(log: IO[bytes]) -> str:
    log.seek(0)
    lines = [line.strip() for line in log.read().decode(errors="replace").splitlines()]
    return next((line for line in reversed(lines) if line), "no output")[:300]


@contextmanager
def server_for_checks(settings: Settings) -> Iterator[str]:
    """A live server at the issuer for the block: the one running there ("running"), else one
    started for it ("started"; its scheduler off, so none of its jobs runs beside the seed)."""
    from core.errors import ServiceUnavailable

    base = settings.issuer.rstrip("/")
    if _answers(base + "/healthz"):
        yield "running"
        return
    host, port = _bind_address(settings)
    env = {
        **os.environ,
        "RAMPART_SCHEDULER": "off",
        "RAMPART_HOST": host,
        "RAMPART_PORT": str(port),
        "RAMPART_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "server", "--host", host, "--port", str(port)]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
            [*command, "--workers", "1"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + READY_SECONDS
            while not _answers(base + "/readyz"):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise ServiceUnavailable(
                        f"the server for the checks did not start on {host}:{port}: "
                        f"{_last_line(log)}"
                    )
                time.sleep(0.2)
            yield "started"
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def seed_evidence(settings: Settings, actor: str, progress: Callable[[str], None]) -> DemoEvidence:
    """Run every check now against the live server, then record the demo history in one
    transaction. The run commits result by result, as every run does (compliance.engine)."""
    from cli.demo_history import HISTORY_DAYS, record_history
    from compliance.config import ComplianceConfig
    from compliance.engine import Scope, default_deps, run
    from core.clock import utcnow
    from core.database import unit_of_work

    outcome = DemoEvidence()
    library = ComplianceConfig.from_env().library()
    progress(f"running the compliance checks against the live server at {settings.issuer}")
    with server_for_checks(settings) as server:
        outcome.server = server
        deps = default_deps()
        outcome.results = run(deps, library, Scope(), triggered_by=actor)
    progress(f"recording {HISTORY_DAYS} days of demo history (signed, each in the ledger)")
    with unit_of_work() as session:
        outcome.history_records = record_history(
            session, deps.signer, outcome.results, utcnow().date()
        )
    return outcome
