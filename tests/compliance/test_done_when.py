"""Issue 13's "done when", as a user runs it with the real `rampart` executable: a fresh data
directory, `init`, `demo seed`, a live server, `compliance run --json` with 40+ results each with
its evidence id; one weakened setting flips exactly its control and fires the signed webhook
(received by a real local HTTP server); a tampered evidence row fails `compliance verify`.

Once per database backend (SQLite file the init creates, PostgreSQL database of the session).

The setting weakened is the idle-session timeout (8.2.8): the lockout threshold and duration
(8.3.4) cannot be weakened at all, the settings refuse them (asserted below), so a deployment
cannot drift there."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

RAMPART = str(Path(sys.executable).with_name("rampart"))
WEBHOOK_SECRET = "demo-webhook-" + uuid.uuid4().hex
WEAK_CONTROL = "pci-dss-4.0.1:8.2.8"

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    """A real HTTP server that keeps every POST it receives (headers and raw body)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers.items()), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/rampart-drift"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    item = Receiver()
    try:
        yield item
    finally:
        item.close()


class Shop:
    def __init__(self, root: Path, database_url: str | None, webhook: str) -> None:
        self.root = root
        self.port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
        env.update(
            RAMPART_LOG_LEVEL="WARNING",
            RAMPART_ADMIN_PASSWORD="correct horse 42 battery",
            RAMPART_PORT=str(self.port),
            RAMPART_COMPLIANCE_WEBHOOK_URL=webhook,
            RAMPART_COMPLIANCE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        )
        if database_url is not None:
            env["RAMPART_DATABASE_URL"] = database_url
        self.env = env
        self.server: subprocess.Popen[str] | None = None

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [RAMPART, *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if check:
            assert result.returncode == 0, f"rampart {' '.join(args)}: {result.stderr}"
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def serve(self) -> None:
        self.server = subprocess.Popen(
            [RAMPART, "serve", "--port", str(self.port)],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                pytest.fail(f"rampart serve exited: {self.server.communicate()[1]}")
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/readyz", timeout=2
                ) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        pytest.fail("rampart serve did not become ready within 60 s")

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGTERM)
            self.server.communicate(timeout=30)
        self.server = None

    def statuses(self) -> dict[str, str]:
        return {c["control"]: c["status"] for c in self.json("compliance", "status")["controls"]}

    def remediations_settled(self, timeout: float = 60) -> list[dict[str, Any]]:
        """Wait until the server's worker has finished every automatic remediation."""
        deadline = time.monotonic() + timeout
        while True:
            rows: list[dict[str, Any]] = self.json("compliance", "remediations", "list")[
                "remediations"
            ]
            if not any(r["status"] in ("queued", "approved", "running") for r in rows):
                return rows
            if time.monotonic() > deadline:
                pytest.fail(f"remediations still running after {timeout} s: {rows}")
            time.sleep(0.5)


@pytest.fixture
def shop(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path, receiver: Receiver
) -> Iterator[Shop]:
    # SQLite: the file `rampart init` creates in the fresh data directory; PostgreSQL: the
    # session's database, emptied (init migrates and fills it like a fresh one).
    url = None if database_url.startswith("sqlite") else database_url
    item = Shop(tmp_path, url, receiver.url)
    try:
        yield item
    finally:
        item.stop()


def _wait_for(
    receiver: Receiver, control: str, timeout: float = 60
) -> tuple[dict[str, str], bytes]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for headers, body in list(receiver.received):
            if json.loads(body)["control"] == control:
                return headers, body
        time.sleep(0.2)
    pytest.fail(f"no drift alert for {control} within {timeout} s: {receiver.received}")


def test_fresh_demo_shop_run_drift_webhook_and_tamper(shop: Shop, receiver: Receiver) -> None:
    init = shop.json("init", "--admin-email", "sec@demo-shop.example")
    assert init["admin"]["created"] is True
    # A fresh SQLite file; the PostgreSQL database of the session is migrated already (emptied).
    assert init["fresh"] is ("RAMPART_DATABASE_URL" not in shop.env)

    # The shop alone: this test's first `compliance run` is the one that finds the weaknesses
    # (a seed with evidence runs the checks itself: tests/cli/test_demo_evidence.py).
    seeded = shop.json("demo", "seed", "--no-evidence")
    assert seeded["changed"] is True
    assert "user:david.okafor@demo-shop.example" in seeded["created"]
    assert {"card:demo-customer-jean.dupont", "weakness:farid.haddad@demo-shop.example"} <= set(
        seeded["created"]
    )
    again = shop.json("demo", "seed", "--no-evidence")
    assert again["changed"] is False
    assert again["created"] == [] and again["updated"] == []

    # A lockout weaker than PCI DSS 8.3.4 is refused before anything runs: one line, exit 1.
    shop.env["RAMPART_LOCKOUT_THRESHOLD"] = "20"
    refused = shop.run("compliance", "run", "--json", check=False)
    del shop.env["RAMPART_LOCKOUT_THRESHOLD"]
    assert refused.returncode != 0
    assert "lockout_threshold" in refused.stderr.lower() or "lockout" in refused.stderr.lower()

    shop.serve()
    first = shop.json("compliance", "run")["results"]
    assert len(first) >= 40
    evidence_ids = [uuid.UUID(item["evidence_id"]) for item in first]
    assert len(set(evidence_ids)) == len(first)
    by_check = {item["check"]: item for item in first}
    assert all(item["status"] in ("pass", "fail") for item in first), [
        (i["check"], i["status"]) for i in first if i["status"] not in ("pass", "fail")
    ]
    # The demo's deliberate weaknesses are what the checks find.
    assert by_check["iam.admins_enrolled_mfa"]["status"] == "fail"
    assert by_check["iam.inactive_accounts"]["status"] == "fail"
    assert by_check["iam.session_idle_timeout"]["status"] == "pass"
    assert by_check["iam.lockout_probe"]["status"] == "pass"  # probed through the live login

    # 8.2.6 disables the inactive account by itself (auto remediation on the server's worker);
    # once it has, a second run is the baseline the weakened one is compared with.
    remediations = shop.remediations_settled()
    assert any(r["status"] == "succeeded" for r in remediations), remediations
    shop.run("compliance", "run", "--json")
    before = shop.statuses()
    assert before[WEAK_CONTROL] == "pass"
    alerts_before = len(receiver.received)

    # Weaken one setting of the deployment (server and CLI alike), rerun.
    shop.stop()
    shop.env["RAMPART_SESSION_IDLE_TIMEOUT"] = "3600"
    shop.serve()
    weakened = {i["check"]: i for i in shop.json("compliance", "run")["results"]}
    assert weakened["iam.session_idle_timeout"]["status"] == "fail"
    assert weakened["iam.session_idle_timeout"]["observed"] == {"session_idle_timeout": 3600}
    after = shop.statuses()
    changed = {c: (before[c], after[c]) for c in before if before[c] != after[c]}
    assert changed == {WEAK_CONTROL: ("pass", "failing")}

    headers, body = _wait_for(receiver, WEAK_CONTROL)
    alert = json.loads(body)
    assert alert["event"] == "compliance.control_failing"
    assert alert["previous"] == "pass"
    timestamp = headers["X-Rampart-Timestamp"]
    expected = hmac.new(WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(headers["X-Rampart-Signature"], "sha256=" + expected.hexdigest())
    assert abs(int(timestamp) - time.time()) < 300
    new_alerts = [json.loads(b)["control"] for _, b in receiver.received[alerts_before:]]
    assert new_alerts == [WEAK_CONTROL]  # exactly the control that flipped
    assert WEBHOOK_SECRET not in body.decode()
    shop.stop()

    # Everything verifies; then one evidence row is changed in the database.
    assert shop.run("compliance", "verify").returncode == 0
    forged = weakened["iam.session_idle_timeout"]["evidence_id"]
    url = shop.env.get("RAMPART_DATABASE_URL") or f"sqlite:///{shop.root / 'var' / 'rampart.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        updated = connection.execute(
            text("UPDATE compliance_evidence SET observed = :forged WHERE id = :id"),
            {"forged": '{"session_idle_timeout":900}', "id": _row_id(connection, forged)},
        )
        assert updated.rowcount == 1
    engine.dispose()
    result = shop.run("compliance", "verify", check=False)
    assert result.returncode != 0
    assert forged in result.stderr
    problems = [line for line in result.stderr.splitlines() if line]
    assert problems and all(forged in line for line in problems), result.stderr


def _row_id(connection: Any, evidence_id: str) -> Any:
    """The stored form of the id (UUID column: hex on SQLite, native on PostgreSQL)."""
    for candidate in (evidence_id, uuid.UUID(evidence_id).hex):
        found = connection.execute(
            text("SELECT id FROM compliance_evidence WHERE CAST(id AS TEXT) = :id"),
            {"id": candidate},
        ).scalar()
        if found is not None:
            return found
    pytest.fail(f"evidence {evidence_id} not found in the database")
