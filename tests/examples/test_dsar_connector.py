"""The example CRM as the end-to-end test will run it: ``python -m examples.dsar_connector`` in
a subprocess (port, secret and seeded customers from the environment), answering Rampart's
signed requests through the SDK; unsigned and missing-secret starts are refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from rampart_sdk.dsar import PROTOCOL, sign
from tests.interop.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "example-crm-secret-for-the-test-0001"


@pytest.fixture
def crm_url() -> Iterator[str]:
    with start_crm(subjects=["cust-1", "cust-2"]) as base:
        yield base


@contextmanager
def start_crm(*, subjects: list[str]) -> Iterator[str]:
    """``python -m examples.dsar_connector`` on a free port, seeded with ``subjects``."""
    port = free_port()
    env = {
        **os.environ,
        "DSAR_CONNECTOR_SECRET": SECRET,
        "DSAR_CONNECTOR_PORT": str(port),
        "DSAR_CRM_SUBJECTS": ",".join(subjects),
    }
    process = subprocess.Popen([sys.executable, "-m", "examples.dsar_connector"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "did not start"
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(10)


def _ask(base: str, kind: str, subject: str, **extra: object) -> httpx.Response:
    body = json.dumps(
        {
            "protocol": PROTOCOL,
            "request_id": "0193a5c0-0000-7000-8000-000000000009",
            "type": kind,
            "subject": subject,
            "email": None,
            "changes": {},
            "purposes": [],
            **extra,
        }
    ).encode()
    return httpx.post(
        f"{base}/rampart/dsar", content=body, headers={"Rampart-Signature": sign(SECRET, body)}
    )


def test_the_subprocess_answers_access_erasure_and_refuses_unsigned_calls(crm_url: str) -> None:
    assert httpx.get(f"{crm_url}/stats").json() == {"customers": 2, "invoices": 4, "restricted": 0}
    access = _ask(crm_url, "access", "cust-1").json()
    assert access["status"] == "done"
    assert [d["name"] for d in access["datasets"]] == ["customers", "notes", "invoices"]
    assert access["info"]["source"]
    erased = _ask(crm_url, "erasure", "cust-1").json()
    assert (erased["status"], erased["method"]) == ("done", "deleted")
    assert erased["holds"][0]["retention"] == "P10Y"
    assert httpx.get(f"{crm_url}/stats").json()["customers"] == 1
    assert _ask(crm_url, "erasure", "nobody").json()["status"] == "not_applicable"
    fixed = _ask(crm_url, "rectification", "cust-2", changes={"phone": "+44 1"}).json()
    assert fixed["method"] == "rectified"
    unsigned = httpx.post(f"{crm_url}/rampart/dsar", content=b"{}")
    assert unsigned.status_code == 401


def test_it_refuses_to_start_without_a_secret() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DSAR_CONNECTOR_SECRET"}
    done = subprocess.run(
        [sys.executable, "-m", "examples.dsar_connector"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "DSAR_CONNECTOR_SECRET" in done.stderr
