"""`rampart dsar` against a real server process, as an officer logged in with a second factor
(a stored login holding a real signed token): file, list, show, decide, process through the
built-in connectors, export the package and write the certificate that openssl verifies;
refusals are one stderr line and exit 1."""

from __future__ import annotations

import json
import logging
import os
import shlex
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.credentials import StoredLogin, save_login
from cli.main import app
from core.clock import utcnow
from core.database import unit_of_work
from core.settings import Settings, get_settings
from iam.accounts.service import create_user
from iam.oauth2.tokens import Subject, mint_access_token
from tests.policies.authz_support import authz_settings
from tests.policies.processes import free_port, rampart_process

__all__ = ["authz_settings"]  # fixture used by name
runner = CliRunner()


@pytest.fixture
def officer_cli(
    authz_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    """A real server (its issuer its own address) and a stored officer login with MFA."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("RAMPART_ISSUER", base)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    get_settings.cache_clear()
    with unit_of_work() as db:
        user, _ = create_user(db, "dpo@shop.example", roles=["compliance_officer"])
        subject = Subject(user_id=user.id, auth_time=utcnow(), amr=["pwd", "otp", "mfa"])
        token, _, _ = mint_access_token(
            db, client_id="rampart-cli", subject=subject, scope="", audience=[base]
        )
    save_login(
        StoredLogin(
            server=base,
            client_id="rampart-cli",
            token_endpoint=f"{base}/oauth2/token",
            revocation_endpoint=f"{base}/oauth2/revoke",
            userinfo_endpoint=f"{base}/oauth2/userinfo",
            access_token=token,
            expires_at=time.time() + 3600,
        )
    )
    env = {**os.environ, "RAMPART_SCHEDULER": "off", "RAMPART_LOG_LEVEL": "WARNING"}
    env.pop("RAMPART_REDIS_URL", None)
    # In this process an earlier test's app may have set logging to INFO on stderr; the CLI's
    # own runs log at WARNING, so httpx's request lines are not part of what is checked.
    httpx_log = logging.getLogger("httpx")
    level = httpx_log.level
    httpx_log.setLevel(logging.WARNING)
    try:
        with rampart_process(env, port=port) as url:
            yield url
    finally:
        httpx_log.setLevel(level)


def _ok(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["dsar", *args, "--json"])
    assert result.exit_code == 0, result.stderr
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def _refused(*args: str) -> str:
    result = runner.invoke(app, ["dsar", *args])
    assert result.exit_code == 1, result.stdout
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    return result.stderr


def test_officer_files_processes_exports_and_verifies_the_certificate(
    officer_cli: str, tmp_path: Path
) -> None:
    filed = _ok(
        "file",
        "--type",
        "access",
        "--subject",
        "cust-1",
        "--email",
        "c1@shop.example",
        "--verified",
        "--note",
        "letter of 2026-12-01",
    )["request"]
    rid = filed["id"]
    assert (filed["channel"], filed["state"]) == ("officer", "verified")
    assert [r["id"] for r in _ok("list", "--state", "verified")["requests"]] == [rid]
    assert _ok("list", "--overdue")["requests"] == []

    processed = _ok("process", rid)
    assert processed["request"]["state"] == "completed"
    assert len(processed["outcomes"]) == 4
    assert _ok("show", rid)["history"][-1]["to_state"] == "completed"

    package = tmp_path / "package.zip"
    exported = _ok("export", rid, "--output", str(package))
    assert exported["sha256"] == processed["request"]["package_sha256"]
    with zipfile.ZipFile(package) as archive:
        assert archive.testzip() is None

    out = tmp_path / "cert"
    written = _ok("certificate", rid, "--output", str(out))
    assert sorted(Path(f).name for f in written["files"]) == [
        "certificate.json",
        "certificate.sig",
        "public-key.pem",
    ]
    # The printed command is `cd DIR && openssl ...`: run its openssl part in DIR.
    assert written["verify_command"].startswith(f"cd {out} && openssl pkeyutl -verify")
    openssl = shlex.split(written["verify_command"].split(" && ", 1)[1])
    verified = subprocess.run(openssl, cwd=out, capture_output=True, text=True, check=False)
    assert verified.returncode == 0 and "Signature Verified Successfully" in verified.stdout
    # A tampered certificate does not verify.
    document = out / "certificate.json"
    document.write_bytes(document.read_bytes().replace(b"cust-1", b"cust-2"))
    tampered = subprocess.run(openssl, cwd=out, capture_output=True, text=True, check=False)
    assert tampered.returncode != 0

    assert "cannot become rejected" in _refused("reject", rid, "--reason", "late")
    assert "not a request id" in _refused("show", "nope")


def test_erasure_waits_for_approval_and_the_officer_decides(officer_cli: str) -> None:
    rid = _ok("file", "--type", "erasure", "--subject", "cust-2", "--email", "c2@x.example")[
        "request"
    ]["id"]
    assert "cannot be processed" in _refused("process", rid)
    asked = _ok("request-info", rid, "--reason", "confirm the order number")
    assert asked["request"]["paused"] is True
    assert _ok("verify-identity", rid)["request"]["state"] == "verified"
    extended = _ok("extend", rid, "--months", "1", "--reason", "legacy systems")
    assert extended["request"]["extended"] is True
    assert _ok("process", rid)["request"]["state"] == "awaiting_approval"
    assert _ok("approve", rid)["request"]["state"] == "in_progress"
    assert _ok("process", rid)["request"]["state"] == "completed"

    other = _ok(
        "file", "--type", "rectification", "--subject", "cust-3", "--change", "name=Ann Example"
    )["request"]
    assert other["changes"] == {"name": "Ann Example"}
    rejected = _ok("reject", other["id"], "--reason", "identity could not be confirmed")
    assert rejected["request"]["state"] == "rejected"
    shown = runner.invoke(app, ["dsar", "show", other["id"]])
    assert shown.exit_code == 0 and "rejected: identity could not be confirmed" in shown.stdout
    assert "field=value" in _refused(
        "file", "--type", "rectification", "--subject", "c", "--change", "oops"
    )
    assert {r["type"] for r in _ok("list")["requests"]} == {"erasure", "rectification"}
