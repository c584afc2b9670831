"""The one body limit: checked at the edge before authentication and routing, on the declared
length and on what streams in, so an unauthenticated caller cannot make the server hold a body
(issue 12 item 2). Over real HTTP against a live uvicorn process, whose memory is measured."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from server.app import create_app
from tests.policies.processes import rampart_process
from tests.server.conftest import prepare
from vault.endpoints import MAX_BODY_BYTES
from vault.proxy.forwarding import MAX_PROXY_BODY_BYTES

PROBLEM = "application/problem+json"
TOO_LARGE = "https://rampart.dev/problems/content-too-large"
MIB = 1024 * 1024
OVERSIZE = 100 * MIB
BEARER = "Bearer not-a-token"


@pytest.fixture
def server(http_settings: Settings) -> Iterator[str]:
    prepare(http_settings)
    env = {**os.environ, "RAMPART_SCHEDULER": "off", "RAMPART_LOG_LEVEL": "WARNING"}
    with rampart_process(env) as base:
        yield base


def _server_pid(base: str) -> int:
    port = urlsplit(base).port
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"uvicorn" in cmdline and str(port).encode() in cmdline:
            return int(entry.name)
    raise AssertionError("no server process")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _chunked(body: bytes) -> bytes:
    return f"{len(body):x}\r\n".encode() + body + b"\r\n"


def _post_raw(
    base: str, path: str, *, chunked: bool, size: int
) -> tuple[int, dict[str, str], bytes]:
    """POST ``size`` bytes, Content-Length or chunked, reading the answer while still sending
    (a server that answers early and closes must not lose its answer to our write error)."""
    url = urlsplit(base)
    sock = socket.create_connection((url.hostname, url.port), timeout=60)
    framing = b"transfer-encoding: chunked" if chunked else f"content-length: {size}".encode()
    head = (
        (
            f"POST {path} HTTP/1.1\r\nhost: {url.hostname}\r\nauthorization: {BEARER}\r\n"
            "content-type: application/json\r\n"
        ).encode()
        + framing
        + b"\r\n\r\n"
    )
    answer = bytearray()

    def read() -> None:
        while chunk := sock.recv(65536):
            answer.extend(chunk)
            if b"\r\n\r\n" in answer:
                head_part, _, rest = bytes(answer).partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head_part.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    None,
                )
                if length is not None and len(rest) >= length:
                    return

    reader = threading.Thread(target=read)
    reader.start()
    piece = b"[" + b"1," * (MIB // 2 - 1) + b"1]"[: MIB - (MIB // 2 - 1) * 2 - 1]
    try:
        sock.sendall(head)
        sent = 0
        while sent < size:
            sock.sendall(_chunked(piece) if chunked else piece[: size - sent])
            sent += len(piece)
        if chunked:
            sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the server answered and closed the connection
    reader.join(timeout=60)
    sock.close()
    head_part, _, body = bytes(answer).partition(b"\r\n\r\n")
    lines = head_part.decode().split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_oversize_unauthenticated_body_is_refused_without_being_held(
    server: str, chunked: bool
) -> None:
    pid = _server_pid(server)
    warm = httpx.post(
        server + "/v1/policies", json={"lines": []}, headers={"Authorization": BEARER}
    )
    assert warm.status_code == 401  # a normal request is still answered as before
    before = _rss_kib(pid)
    for _ in range(3):
        status, headers, body = _post_raw(server, "/v1/policies", chunked=chunked, size=OVERSIZE)
        assert status == 413  # not the 401 this unauthenticated request would otherwise get
        assert headers["content-type"] == PROBLEM
        problem = json.loads(body)
        assert problem["type"] == TOO_LARGE and problem["status"] == 413
        assert "request_id" in problem
    grown_mib = (_rss_kib(pid) - before) / 1024
    assert grown_mib < 8, f"server grew by {grown_mib:.0f} MiB"
    assert httpx.get(server + "/healthz").status_code == 200


@pytest.fixture
def api(http_settings: Settings) -> Iterator[TestClient]:
    prepare(http_settings)
    with TestClient(create_app(http_settings)) as client:
        yield client


def test_limit_comes_before_authentication_and_routing(
    api: TestClient, http_settings: Settings
) -> None:
    big = b"x" * (http_settings.max_body_bytes + 1)
    for path in ("/v1/policies", "/no/such/path", "/oauth2/token"):
        answer = api.post(path, content=big, headers={"Authorization": BEARER})
        assert answer.status_code == 413, path
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["type"] == TOO_LARGE
    streamed = api.post(
        "/v1/policies", content=iter([big[:MIB], big[MIB:]]), headers={"Authorization": BEARER}
    )
    assert "content-length" not in streamed.request.headers
    assert streamed.status_code == 413 and streamed.json()["type"] == TOO_LARGE
    within = api.post("/v1/policies", content=b"{}", headers={"Authorization": BEARER})
    assert within.status_code == 401


def test_vault_routes_declare_their_larger_limit(api: TestClient, http_settings: Settings) -> None:
    path = "/v1/vault/string/tokens/batch"
    over_default = b"x" * (http_settings.max_body_bytes + 1)
    assert (
        api.post(path, content=over_default, headers={"Authorization": BEARER}).status_code == 401
    )
    over_vault = b"x" * (MAX_BODY_BYTES + 1)
    refused = api.post(path, content=over_vault, headers={"Authorization": BEARER})
    assert refused.status_code == 413 and refused.json()["type"] == TOO_LARGE


def test_the_proxies_limit_is_a_row_of_the_one_table(
    api: TestClient, http_settings: Settings
) -> None:
    """The proxies' limit is a row of registry.BODY_LIMIT_BY_PREFIX, answered at the edge like
    every other (413 content-too-large before authentication), not by a second limiter in the
    endpoint (after authentication: a 401, or a proxy-specific 413)."""
    assert MAX_PROXY_BODY_BYTES < MAX_BODY_BYTES
    for path in ("/v1/vault/proxy/crm/orders", "/proxy/in/acme/gateway/hook"):
        answer = api.post(
            path, content=b"x" * (MAX_PROXY_BODY_BYTES + 1), headers={"Authorization": BEARER}
        )
        assert answer.status_code == 413, path
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["type"] == TOO_LARGE, path
    assert http_settings.max_body_bytes <= MAX_PROXY_BODY_BYTES  # /proxy/in: same answer before
