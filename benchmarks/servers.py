"""Starts real servers for benchmarks and drives them with wrk (the Debian package)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from base64 import b64encode
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def scratch_postgres(prefix: str, admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database named ``<prefix>_<random>`` beside ``admin_url``'s, for one
    benchmark run; yields its URL and drops it (connections forced off) afterwards."""
    import uuid

    from sqlalchemy import create_engine, text

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback only
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer 200 within {timeout} s")


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            pending.extend(
                int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split()
            )
        except OSError:
            continue
    return found


def _status_kib(path: str, field: str) -> int:
    try:
        match = re.search(rf"^{field}:\s+(\d+) kB", Path(path).read_text(), re.MULTILINE)
    except OSError:
        return 0
    return int(match.group(1)) if match else 0


def tree_cpu_seconds(pid: int) -> float:
    """user + system CPU of a process and its descendants (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError, IndexError):
            continue
    return total


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants, summed (pages they share, such as
    libraries in a supervisor and its workers, are counted once per process)."""
    return sum(_status_kib(f"/proc/{p}/status", "VmRSS") for p in _tree(pid)) * 1024


def pss_bytes(pid: int) -> int:
    """Proportional resident memory of a process and its descendants: each shared page split
    among the processes sharing it, so the sum is what the tree costs the machine."""
    return sum(_status_kib(f"/proc/{p}/smaps_rollup", "Pss") for p in _tree(pid)) * 1024


@dataclass
class RunningServer:
    base_url: str
    process: subprocess.Popen[bytes]
    data_dir: Path


@contextmanager
def rampart_server(
    env: dict[str, str] | None = None, workers: int = 1, data_dir: Path | None = None
) -> Iterator[RunningServer]:
    """`rampart serve` in a fresh data directory, on a free loopback port."""
    tmp = Path(tempfile.mkdtemp(prefix="rampart-bench-"))
    port = free_port()
    full_env = {
        **os.environ,
        "RAMPART_DATA_DIR": str(data_dir or tmp / "var"),
        "RAMPART_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/rampart"), "serve", "--port", str(port), "--workers", str(workers)],
        cwd=tmp,
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/readyz", timeout=60)
        yield RunningServer(base, process, Path(full_env["RAMPART_DATA_DIR"]))
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _latency_ms(text: str, pct: str) -> float:
    match = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    return float(match.group(1)) * _UNITS[match.group(2)] if match else float("nan")


def run_wrk(
    url: str,
    *,
    seconds: int = 10,
    connections: int = 64,
    threads: int = 2,
    script: Path | None = None,
) -> WrkResult:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (Debian package `wrk`: apt-get install wrk)")
    cmd = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script is not None:
        cmd += ["-s", str(script)]
    with _flame_graph(url, seconds, script):
        out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses:\s+(\d+)", r"Socket errors:.*?timeout (\d+)"):
        match = re.search(pattern, out)
        if match:
            errors += int(match.group(1))
    return WrkResult(rps, _latency_ms(out, "50"), _latency_ms(out, "99"), errors)


FLAME_GRAPH_DIR = "BENCH_FLAME_GRAPH_DIR"


@contextmanager
def _flame_graph(url: str, seconds: int, script: Path | None) -> Iterator[None]:
    """With ``BENCH_FLAME_GRAPH_DIR`` set, py-spy samples the process serving ``url`` (and its
    workers) while wrk runs, and writes ``<dir>/<script>-<port>.svg``:
    `BENCH_FLAME_GRAPH_DIR=docs/perf uv run --frozen --with py-spy python -m benchmarks vault`."""
    where = os.environ.get(FLAME_GRAPH_DIR)
    port = urllib.parse.urlsplit(url).port
    pid = _listening_pid(port) if where and port else None
    if pid is None:
        yield
        return
    name = f"{script.stem if script else 'get'}-{port}.svg"
    recorder = subprocess.Popen(
        ["py-spy", "record", "--pid", str(pid), "--subprocesses", "--nonblocking",
         "--duration", str(seconds), "--format", "flamegraph", "--output",
         str(Path(where or ".") / name)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield
    finally:
        recorder.wait(timeout=seconds + 60)


def _listening_pid(port: int) -> int | None:
    """The lowest pid holding the socket listening on ``port`` (the server's supervisor)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    holders = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any(os.readlink(fd) in inodes for fd in fd_dir.iterdir()):
                holders.append(int(fd_dir.parent.name))
        except OSError:
            continue  # gone, or not ours to read
    return min(holders) if holders else None


def rampart_cli(env: dict[str, str], *args: str) -> str:
    """Run the `rampart` command against a benchmark server's data directory and database."""
    return subprocess.run(
        [str(ROOT / ".venv/bin/rampart"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout


def service_bearer(
    base_url: str, env: dict[str, str], client_id: str, extra_rules: tuple[str, ...] = ()
) -> str:
    """A real access token: a client-credentials client created with the CLI, granted the
    `service` role (and ``extra_rules``, policy lines) by a policy change, then the token
    endpoint."""
    created = json.loads(
        rampart_cli(
            env, "client", "create", client_id, "--client-id", client_id,
            "--grant", "client_credentials", "--json",
        )
    )  # fmt: skip
    secret = created.get("client_secret") or created.get("secret")
    current = json.loads(rampart_cli(env, "policy", "show", "--json"))["lines"]
    policy = Path(env["RAMPART_DATA_DIR"]) / f"bench-policy-{client_id}.csv"
    grant = f"g, client:{client_id}, role:service, rampart"
    policy.write_text("\n".join([*current, grant, *extra_rules]) + "\n")
    rampart_cli(env, "policy", "apply", str(policy), "--reason", "benchmark client")
    request = urllib.request.Request(  # noqa: S310 - loopback only
        base_url + "/oauth2/token",
        data=urllib.parse.urlencode({"grant_type": "client_credentials"}).encode(),
        headers={"Authorization": "Basic " + b64encode(f"{client_id}:{secret}".encode()).decode()},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return str(json.loads(response.read())["access_token"])
