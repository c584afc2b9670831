"""The real server as a subprocess (uvicorn on a free port) and the node relying party's
dependencies (``npm ci`` once, when node_modules is missing)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.database import reset_engine_cache
from core.kms.provider import get_key_provider, reset_key_provider
from core.settings import Settings, get_settings
from iam.keys.service import clear_signing_key_cache

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def node_project() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("node and npm are required for the interop tests")
    if not (HERE / "node_modules" / "openid-client").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, timeout=300)
    return HERE


@pytest.fixture
def live_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings whose issuer is the port the server will listen on; keys ready."""
    port = free_port()
    monkeypatch.setenv("RAMPART_ISSUER", f"http://127.0.0.1:{port}")
    get_settings.cache_clear()
    reset_engine_cache()
    reset_key_provider()
    clear_signing_key_cache()
    get_key_provider().ensure_keys()
    yield get_settings()
    reset_key_provider()
    clear_signing_key_cache()


@pytest.fixture
def live_server(live_settings: Settings) -> Iterator[str]:
    """uvicorn serving create_app on the issuer's port; stopped (by its pid) at the end."""
    port = int(live_settings.issuer.rsplit(":", 1)[1])
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "server.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                stderr = process.stderr.read().decode() if process.stderr else ""
                pytest.fail(f"the server exited early: {stderr[-2000:]}")
            try:
                if httpx.get(live_settings.issuer + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the server did not start within 30 s")
            time.sleep(0.2)
        yield live_settings.issuer
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
