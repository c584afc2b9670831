"""`rampart init`, `serve` and `db` on a real data directory, as a user runs them."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

RAMPART = str(Path(sys.executable).with_name("rampart"))


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
    env.update({"RAMPART_LOG_LEVEL": "WARNING", **extra})
    return env


def _rampart(
    *args: str, cwd: Path, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RAMPART, *args], cwd=cwd, env=env, capture_output=True, text=True, check=check, timeout=60
    )


def test_init_is_idempotent(tmp_path: Path) -> None:
    env = _env(tmp_path, RAMPART_ADMIN_PASSWORD="correct horse 42 battery")
    first = json.loads(
        _rampart(
            "init", "--json", "--admin-email", "sec@shop.example", cwd=tmp_path, env=env
        ).stdout
    )
    assert first["fresh"] is True
    assert first["admin"] == {"email": "sec@shop.example", "created": True}
    assert first["admin_password"] is None  # it came from the environment
    assert (tmp_path / "var" / "rampart.db").exists()
    assert oct((tmp_path / "var").stat().st_mode & 0o777) == "0o700"
    with sqlite3.connect(tmp_path / "var" / "rampart.db") as db:  # `rampart login`'s client
        clients = db.execute("SELECT client_id, client_type FROM oauth2_clients").fetchall()
    assert clients == [("rampart-cli", "public")]
    with sqlite3.connect(tmp_path / "var" / "rampart.db") as db:  # seeded: none existed
        purposes = db.execute("SELECT key FROM consent_purposes ORDER BY key").fetchall()
    assert purposes == [("analytics",), ("marketing.advertising",), ("personalize",)]

    second = json.loads(_rampart("init", "--json", cwd=tmp_path, env=env).stdout)
    assert second["fresh"] is False
    assert second["admin"]["created"] is False
    assert second["created"] == []
    assert second["migrated_to"] == first["migrated_to"]


def test_db_current_reports_up_to_date_after_upgrade(tmp_path: Path) -> None:
    env = _env(tmp_path)
    _rampart("db", "upgrade", cwd=tmp_path, env=env)
    current = json.loads(_rampart("db", "current", "--json", cwd=tmp_path, env=env).stdout)
    assert current["up_to_date"] is True
    assert set(current["current"]) <= set(current["heads"])


def test_unreachable_database_is_one_line_on_stderr(tmp_path: Path) -> None:
    env = _env(tmp_path, RAMPART_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/nothing")
    result = _rampart("db", "current", cwd=tmp_path, env=env, check=False)
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: the database could not be reached")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_until_ready(tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    port = _free_port()
    process = subprocess.Popen(
        [RAMPART, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"rampart serve exited: {process.stderr.read() if process.stderr else ''}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    pytest.fail("rampart serve did not become ready within 60 s")


def _stop(process: subprocess.Popen[str]) -> str:
    os.killpg(process.pid, signal.SIGTERM)
    out, _ = process.communicate(timeout=30)
    return out


@pytest.mark.slow
def test_serve_initializes_an_empty_directory_then_reuses_it(tmp_path: Path) -> None:
    env = _env(tmp_path)
    process, port = _serve_until_ready(tmp_path, env)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
        body = json.loads(response.read())
    first_output = _stop(process)
    assert body["status"] == "ready"
    assert "created data directory" in first_output
    login = re.search(r"admin login: (\S+) / (\S+)", first_output)
    assert login is not None, first_output
    assert login.group(1) == "admin@localhost"
    assert len(login.group(2)) >= 12
    key_file = tmp_path / "var" / "keys.json"
    assert key_file.exists()
    key_bytes = key_file.read_bytes()

    process, _ = _serve_until_ready(tmp_path, env)
    second_output = _stop(process)
    assert "created" not in second_output
    assert key_file.read_bytes() == key_bytes, "a second start must reuse the existing keys"


@pytest.mark.slow
def test_the_served_app_names_no_server_and_logs_each_request_in_the_pipeline(
    tmp_path: Path,
) -> None:
    process, port = _serve_until_ready(tmp_path, _env(tmp_path, RAMPART_LOG_LEVEL="INFO"))
    with urllib.request.urlopen(
        f"http://127.0.0.1:{port}/healthz?token=not-for-logs", timeout=5
    ) as response:
        server_header = response.headers.get_all("server")
    os.killpg(process.pid, signal.SIGTERM)
    out, errors = process.communicate(timeout=30)
    assert server_header is None  # the HTTP server's name is not disclosed
    lines = [json.loads(line) for line in (out + errors).splitlines() if line.startswith("{")]
    access = [line["event"] for line in lines if line["logger"] == "uvicorn.access"]
    assert any('"GET /healthz?token=[REDACTED] HTTP/1.1" 200' in event for event in access), lines
    assert "not-for-logs" not in out + errors


@pytest.mark.slow
def test_serve_issues_for_the_port_it_listens_on_and_warns_of_a_stale_issuer(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path)
    process, port = _serve_until_ready(tmp_path, env)
    with urllib.request.urlopen(
        f"http://127.0.0.1:{port}/.well-known/openid-configuration", timeout=5
    ) as response:
        discovery = json.loads(response.read())
    _stop(process)
    assert discovery["issuer"] == f"http://127.0.0.1:{port}"  # RAMPART_ISSUER unset: derived

    stale = _env(tmp_path, RAMPART_ISSUER="http://127.0.0.1:8000")
    process, port = _serve_until_ready(tmp_path, stale)
    os.killpg(process.pid, signal.SIGTERM)
    _, errors = process.communicate(timeout=30)
    assert (
        f"warning: RAMPART_ISSUER=http://127.0.0.1:8000 names port 8000 but the server listens "
        f"on {port}: " in errors
    ), errors
