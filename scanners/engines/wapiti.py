"""The active engine: wapiti3 run as a subprocess, read through its JSON report.

wapiti3 lives in its own virtual environment (``.venv-wapiti``, installed by
scripts/bootstrap.sh from the hashed ``deploy/wapiti/requirements.txt``: its pins conflict with
our lock and its current releases need a newer Python). We do not run its ``wapiti`` script but
that environment's interpreter with :data:`LAUNCHER`, which:

* reads the scan's headers and the vetted address from a 0600 JSON file in a 0700 directory, and
  adds the headers to wapiti's ``-H`` options inside the process, so an auth header never
  appears in the command line (``ps``, ``/proc/PID/cmdline``);
* pins DNS inside wapiti: ``socket.getaddrinfo`` answers the target's host name with the one
  address ``vault.proxy.destinations.pin`` vetted and refuses every other name, so a DNS answer
  that changes between our check and wapiti's connect (rebinding, TOCTOU) cannot send it
  elsewhere, and nor can a redirect to another host.

The process runs in its own session (process group): a timeout, :meth:`WapitiEngine.cancel` or
closing the event stream kills the whole group. Its JSON report stays on disk as the scan's
artefact: :attr:`WapitiEngine.report_path` after the scan (in the scan's work directory, which
the caller removes with :meth:`WapitiEngine.cleanup`)."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from core.settings import Settings, get_settings
from scanners.engines.base import Event, Observation, Progress, ScanRequest
from scanners.engines.builtin.crawl import vet_target
from scanners.exceptions import ScanFailed

# Wapiti's levels (wapitiCore.definitions: INFO 0 .. CRITICAL 4) as our risks.
LEVELS = {0: "info", 1: "low", 2: "medium", 3: "high", 4: "critical"}

# Wapiti's category names (its JSON report's keys) -> our rule keys; any other -> external-alert.
CATEGORIES: dict[str, str] = {
    "Reflected Cross Site Scripting": "xss-reflected",
    "Stored Cross Site Scripting": "xss-persistent",
    "HTML Injection": "html-injection",
    "Stored HTML Injection": "html-injection",
    "SQL Injection": "sql-injection",
    "Blind SQL Injection": "sql-injection-blind",
    "CRLF Injection": "crlf-injection",
    "Server Side Request Forgery": "ssrf",
    "Path Traversal": "path-traversal",
    "Command execution": "command-injection",
    "Open Redirect": "open-redirect",
    "LDAP Injection": "ldap-injection",
    "XML External Entity": "xxe",
    "Log4Shell": "log4shell",
    "Spring4Shell": "spring4shell",
    "Backup file": "backup-file",
    "Unrestricted File Upload": "file-upload-unrestricted",
    "Cross Site Request Forgery": "csrf",
    "Htaccess Bypass": "htaccess-bypass",
    "Weak credentials": "weak-credentials",
    "Vulnerable software": "vulnerable-software",
    "TLS/SSL misconfigurations": "tls-misconfiguration",
    "Content Security Policy Configuration": "csp-missing",
    "Clickjacking Protection": "frame-protection-missing",
    "HTTP Strict Transport Security (HSTS)": "hsts-missing",
    "MIME Type Confusion": "content-type-options-missing",
    "HttpOnly Flag cookie": "cookie-no-httponly",
    "Secure Flag cookie": "cookie-no-secure",
}

LAUNCHER = r"""
import json, socket, sys
with open(sys.argv[1], encoding="utf-8") as handle:
    config = json.load(handle)
host, address = config["host"].lower(), config["address"]
original = socket.getaddrinfo

def pinned(name, *args, **kwargs):
    text = name.decode() if isinstance(name, bytes) else str(name)
    if text.lower().strip("[]") in (host, address):
        return original(address, *args, **kwargs)
    raise socket.gaierror(socket.EAI_NONAME, "refused by Rampart: not the scan target")

socket.getaddrinfo = pinned
argv = [sys.argv[0], *config["argv"]]
for name, value in config["headers"].items():
    argv += ["-H", f"{name}: {value}"]
sys.argv = argv
from wapitiCore.main.wapiti import wapiti_asyncio_wrapper
sys.exit(wapiti_asyncio_wrapper())
"""

_GRACE_SECONDS = 30.0  # wapiti's own --max-scan-time excludes start-up and the report


class WapitiEngine:
    name = "wapiti"

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        start_urls: tuple[str, ...] = (),
        openapi_url: str = "",
    ) -> None:
        self._settings = settings or get_settings()
        self.start_urls = start_urls  # extra pages to start from (`-s`), e.g. a login page
        self.openapi_url = openapi_url  # an OpenAPI document whose operations wapiti attacks
        self._process: subprocess.Popen[str] | None = None
        self._cancelled = threading.Event()
        self.workdir: Path | None = None
        self.report_path: Path | None = None  # wapiti's JSON report: the scan's artefact

    def binary(self) -> Path:
        path = Path(self._settings.scan_wapiti_binary).absolute()  # not resolve(): a venv link
        if not path.is_file():
            raise ScanFailed(
                f"wapiti is not installed at {path} (scripts/bootstrap.sh installs it; "
                "RAMPART_SCAN_WAPITI_BINARY points elsewhere)"
            )
        return path

    def modules(self) -> list[str]:
        return [m.strip() for m in self._settings.scan_wapiti_modules.split(",") if m.strip()]

    def command(self, request: ScanRequest, workdir: Path) -> list[str]:
        """wapiti's options (never a header: those go through the 0600 config file)."""
        limits = request.limits
        argv = [
            "-u", request.scope.base_url,
            "--scope", "folder",
            "-m", ",".join(self.modules()),
            "-f", "json", "-o", str(workdir / "report.json"),
            "--store-session", str(workdir / "session"),
            "--store-config", str(workdir / "config"),
            "--flush-session",
            "-d", str(limits.max_depth),
            "--max-links-per-page", str(max(1, limits.max_pages)),
            "--max-files-per-dir", str(max(1, limits.max_pages)),
            "--max-scan-time", str(limits.max_seconds),
            # --max-scan-time alone does not bound the attack phase: split the budget per module
            "--max-attack-time", f"{limits.max_seconds / max(1, len(self.modules())):.1f}",
            "-t", str(limits.request_timeout),
            "-A", "Rampart-Scanner/1 (wapiti)",
            "-v", "1",
            "--no-bugreport",
        ]  # fmt: skip
        for pattern in request.scope.exclude:
            argv += ["-x", pattern]
        for url in self.start_urls:
            argv += ["-s", url]
        if self.openapi_url:
            argv += ["--swagger", self.openapi_url]
        return argv

    def cancel(self) -> None:
        """Stop the running scan (its whole process group); the stream ends with ScanFailed."""
        self._cancelled.set()
        self._kill()

    def cleanup(self) -> None:
        """Remove the work directory (the report with it) once the caller has stored it."""
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = self.report_path = None

    def scan(self, request: ScanRequest) -> Iterator[Event]:
        target = vet_target(request)
        binary = self.binary()
        self.cleanup()
        self.workdir = workdir = Path(tempfile.mkdtemp(prefix="rampart-wapiti-"))  # 0700
        config = workdir / "launch.json"
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        host = (urlsplit(request.scope.base_url).hostname or "").lower()
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(
                {
                    "host": host,
                    "address": str(target.address),
                    "argv": self.command(request, workdir),
                    "headers": dict(request.headers),
                },
                handle,
            )
        modules = self.modules()
        total = len(modules) + 1
        yield Progress(0, total, "crawling")
        # The argv is ours (the interpreter from settings, our launcher, our config file).
        self._process = process = subprocess.Popen(  # noqa: S603
            [str(binary), "-c", LAUNCHER, str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
            cwd=workdir,
            env=_child_env(),
        )
        try:
            yield from self._follow(process, request, total)
            config.unlink(missing_ok=True)  # the headers are not kept beside the report
            report = workdir / "report.json"
            if not report.is_file():
                raise ScanFailed(f"wapiti ended (exit {process.returncode}) without a report")
            self.report_path = report
            yield from parse_report(json.loads(report.read_text(encoding="utf-8")), request)
            yield Progress(total, total, "done")
        finally:
            self._kill()
            config.unlink(missing_ok=True)
            self._process = None

    def _follow(
        self, process: subprocess.Popen[str], request: ScanRequest, total: int
    ) -> Iterator[Event]:
        lines: queue.Queue[str | None] = queue.Queue()
        stdout = process.stdout
        if stdout is None:  # pragma: no cover - Popen was given stdout=PIPE
            raise ScanFailed("wapiti's output could not be read")

        def pump() -> None:
            for line in stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, name="wapiti-output", daemon=True).start()
        deadline = time.monotonic() + request.limits.max_seconds + _GRACE_SECONDS
        done, crawled, tail = 0, 0, list[str]()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._kill()
                raise ScanFailed(f"wapiti did not finish within {deadline_text(request)}")
            try:
                line = lines.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                if self._cancelled.is_set():
                    raise ScanFailed("the scan was cancelled") from None
                continue
            if line is None:
                break
            line = line.rstrip()
            tail = [*tail, line][-5:]
            if line.startswith("[*] Launching module "):
                done += 1
                yield Progress(done, total, "module " + line.rsplit(" ", 1)[-1])
            elif line.startswith("[+] ") and done == 0:
                crawled += 1
                if crawled % 10 == 1:
                    yield Progress(0, total, f"crawled {crawled} URLs")
        process.wait(timeout=30)
        if self._cancelled.is_set():
            raise ScanFailed("the scan was cancelled")
        if process.returncode != 0:
            # wapiti's last lines name the problem (no header value: those are never printed)
            last = next((t for t in reversed(tail) if t.strip()), "")[:200]
            raise ScanFailed(f"wapiti failed (exit {process.returncode}): {last}")

    def _kill(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def deadline_text(request: ScanRequest) -> str:
    return f"{request.limits.max_seconds + _GRACE_SECONDS:g} s"


def _child_env() -> dict[str, str]:
    # No proxy from the environment (wapiti would send the target's traffic through it) and
    # nothing of ours beyond what Python needs.
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _request_line(item: Mapping[str, Any]) -> str:
    return str(item.get("http_request") or "").split("\n", 1)[0][:500]


def parse_report(report: Mapping[str, Any], request: ScanRequest) -> Iterator[Observation]:
    """Observations from wapiti's JSON report (``vulnerabilities`` and ``anomalies``)."""
    base = urlsplit(request.scope.base_url)
    for section in ("vulnerabilities", "anomalies"):
        for category, items in (report.get(section) or {}).items():
            for item in items or ():
                observation = _observation(category, item, base)
                if observation is not None and request.scope.allows(observation.url):
                    yield observation


def _observation(category: str, item: Mapping[str, Any], base: Any) -> Observation | None:
    path = str(item.get("path") or "/")
    if not path.startswith("/"):
        return None
    url = urlunsplit((base.scheme, base.netloc, path, "", ""))
    rule = CATEGORIES.get(category, "external-alert")
    parameter = str(item.get("parameter") or "")
    info = str(item.get("info") or "")
    if rule == "external-alert":
        parameter = f"[wapiti {category}] {parameter}".strip()
    level = item.get("level")
    return Observation(
        rule=rule,
        url=url,
        method=str(item.get("method") or "GET"),
        parameter=parameter,
        # The request line only: the rest of wapiti's request holds our auth headers.
        evidence=f"{info}\n{_request_line(item)}".strip(),
        risk=LEVELS.get(level) if isinstance(level, int) else None,
        confidence="high",
    )
