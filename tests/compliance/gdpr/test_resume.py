"""Crash-resume (kill -9): a process running ``workflow.process_request`` SIGKILLs itself inside
the third connector, after the first two committed their outcomes; a second process completes
the request. Each connector's outcome is committed exactly once (attempts 1), the first two are
not called again, the package holds what the killed run collected, the certificate verifies."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.gdpr import decisions, service
from compliance.gdpr.connectors.base import (
    ConnectorOutcome,
    ConnectorRequest,
    Dataset,
    RequestType,
    SubjectRef,
)
from compliance.gdpr.models import DsarOutcome
from core.database import unit_of_work
from core.kms.provider import get_key_provider
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
CALLS_ENV, KILL_ENV = "DSAR_TEST_CALLS", "DSAR_TEST_KILL_IN"


@dataclass
class Recorded:
    """Appends its name to the calls file on every call; SIGKILLs the process when named in
    DSAR_TEST_KILL_IN (the outcome of that call is never committed)."""

    name: str

    def supports(self, request_type: RequestType) -> bool:
        return True

    def fulfil(self, session: Session, request: ConnectorRequest) -> ConnectorOutcome:
        with open(os.environ[CALLS_ENV], "a") as calls:
            calls.write(self.name + "\n")
        if os.environ.get(KILL_ENV) == self.name:
            os.kill(os.getpid(), signal.SIGKILL)
        records = ({"system": self.name, "orders": 1},)
        return ConnectorOutcome(self.name, "done", 1, "exported", (Dataset("orders", records),))


oms, crm, marketing = Recorded("oms"), Recorded("crm"), Recorded("marketing")

# The subprocess: the built-in connectors replaced by the three above, then the boundary.
RUN = f"""
import sys, uuid
from compliance.gdpr.connectors import registry
registry.BUILTIN_CONNECTORS = tuple(
    "{__name__}:" + name for name in ("oms", "crm", "marketing")
)
from server.registry import import_all_models
import_all_models()
from compliance.gdpr import workflow
print(workflow.process_request(uuid.UUID(sys.argv[1])))
"""


def _run(request_id: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUN, request_id],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_killed_run_resumes_and_fulfils_each_connector_once(
    settings: Settings, tmp_path: Path
) -> None:
    get_key_provider().ensure_keys()
    with unit_of_work() as db:
        request = service.file_request(
            db,
            type="access",
            subject=SubjectRef("cust-9", "c9@shop.example"),
            channel="api",
            actor="client:shop",
            identity_verified=True,
        )
        decisions.start(db, request.id, actor="user:dpo")
        request_id = request.id
    calls = tmp_path / "calls"
    env = {**os.environ, CALLS_ENV: str(calls), "RAMPART_LOG_LEVEL": "WARNING"}

    killed = _run(str(request_id), {**env, KILL_ENV: "marketing"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert calls.read_text().split() == ["oms", "crm", "marketing"]
    with unit_of_work(read_only=True) as db:
        assert service.get_request(db, request_id).state == "in_progress"
        committed = {
            o.connector: o.attempts
            for o in db.scalars(select(DsarOutcome).where(DsarOutcome.request_id == request_id))
        }
    assert committed == {"oms": 1, "crm": 1}  # the killed call left nothing

    resumed = _run(str(request_id), env)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.split()[-1] == "completed"
    # oms and crm were not asked again; marketing was asked again and answered once.
    assert calls.read_text().split() == ["oms", "crm", "marketing", "marketing"]
    with unit_of_work(read_only=True) as db:
        outcomes = db.scalars(select(DsarOutcome).where(DsarOutcome.request_id == request_id))
        assert {o.connector: (o.status, o.attempts) for o in outcomes} == {
            "oms": ("done", 1),
            "crm": ("done", 1),
            "marketing": ("done", 1),
        }
        files = service.certificate_of(db, request_id, subject=None)
        package = service.read_package(db, request_id)
    key = load_pem_public_key(files.public_key_pem)
    assert isinstance(key, Ed25519PublicKey)
    key.verify(files.signature, files.certificate_json)  # raises when invalid
    document = json.loads(files.certificate_json)
    assert [s["connector"] for s in document["systems"]] == ["crm", "marketing", "oms"]
    assert document["rows_affected"] == 3
    with zipfile.ZipFile(io.BytesIO(package.content)) as archive:
        datasets = sorted(n for n in archive.namelist() if n.endswith("/orders.json"))
    # Every connector's answer is in it, the killed run's included.
    assert datasets == ["crm/orders.json", "marketing/orders.json", "oms/orders.json"]
