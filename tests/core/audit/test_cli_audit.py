"""`rampart audit verify|tail|sign|checkpoint|public-key` against a real database and the local
key provider; the exported checkpoint is verified by OpenSSL, as docs/audit.md tells auditors."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from cli.main import app
from core.kms.local import LocalKeyProvider
from core.kms.provider import reset_key_provider
from core.settings import Settings
from tests.core.audit.conftest import Ed25519Signer, append_events, tamper
from tests.fixtures.openssl import openssl_verify

RAMPART = str(Path(sys.executable).with_name("rampart"))


@pytest.fixture
def local_keys(settings: Settings) -> Iterator[LocalKeyProvider]:
    reset_key_provider()
    provider = LocalKeyProvider(settings.resolved_local_key_file)
    provider.ensure_keys()
    yield provider
    reset_key_provider()


def test_verify_reports_ok_then_names_the_tampered_seq(
    engine: Engine, sessions: sessionmaker[Session], local_keys: LocalKeyProvider
) -> None:
    runner = CliRunner()
    append_events(sessions, 12)
    signed = runner.invoke(app, ["audit", "sign", "--force", "--json"])
    assert signed.exit_code == 0, signed.output
    assert [cp["seq"] for cp in json.loads(signed.stdout)] == [12]

    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert ok.stdout == "OK: 12 entries, 1 checkpoints verified\n"

    tamper(engine, "UPDATE audit_entries SET actor = 'user:mallory' WHERE seq = 5")
    failed = runner.invoke(app, ["audit", "verify"])
    assert failed.exit_code == 1
    assert failed.stderr == "FAILED at seq 5: changed (stored hash does not match its content)\n"
    assert failed.stdout == ""


def test_verify_json_with_an_explicit_untrusted_key(
    sessions: sessionmaker[Session], local_keys: LocalKeyProvider
) -> None:
    runner = CliRunner()
    append_events(sessions, 3)
    assert runner.invoke(app, ["audit", "sign", "--force"]).exit_code == 0
    trusted = local_keys.public_signing_key().hex()
    ok = runner.invoke(app, ["audit", "verify", "--json", "--public-key", trusted])
    assert json.loads(ok.stdout) == {
        "ok": True,
        "count": 3,
        "checkpoints_verified": 1,
        "problem": None,
    }
    stranger = Ed25519Signer().public_signing_key().hex()
    failed = runner.invoke(app, ["audit", "verify", "--json", "--public-key", stranger])
    assert failed.exit_code == 1
    assert json.loads(failed.stdout)["problem"] == {
        "seq": 3,
        "kind": "bad_checkpoint_signature",
        "reason": "no trusted key verifies the checkpoint signature",
    }
    bad = runner.invoke(app, ["audit", "verify", "--public-key", "not-a-key"])
    assert bad.exit_code == 1
    assert "--public-key" in bad.stderr


def test_tail_lists_the_newest_entries_first(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    append_events(sessions, 5)
    result = CliRunner().invoke(app, ["audit", "tail", "--limit", "2", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [row["seq"] for row in rows] == [5, 4]
    assert rows[0]["actor"] == "user:alice"
    assert rows[0]["occurred_at"].endswith("+00:00")


def test_the_installed_command_names_a_changed_row(
    engine: Engine, sessions: sessionmaker[Session], local_keys: LocalKeyProvider
) -> None:
    """The done-when of the ledger, as an operator runs it."""
    append_events(sessions, 8)
    tamper(engine, "UPDATE audit_entries SET outcome = 'denied' WHERE seq = 6")
    result = subprocess.run(
        [RAMPART, "audit", "verify"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "FAILED at seq 6: changed (stored hash does not match its content)"
    ]


def test_tail_takes_n(sessions: sessionmaker[Session], settings: Settings) -> None:
    append_events(sessions, 25)
    runner = CliRunner()
    default = json.loads(runner.invoke(app, ["audit", "tail", "--json"]).stdout)
    assert [row["seq"] for row in default] == list(range(25, 5, -1))  # 20 by default
    three = runner.invoke(app, ["audit", "tail", "-n", "3", "--json"])
    assert three.exit_code == 0, three.output
    assert [row["seq"] for row in json.loads(three.stdout)] == [25, 24, 23]


def test_the_tail_table_keeps_long_names_whole_at_80_columns(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    actor = "client:order-synchronisation-service-eu-west-1"
    resource = "order:01JF8Z6J0F3M3Q8W9X2Y4Z5A6B-refund-7"
    append_events(sessions, 1, actor=actor, resource=resource, event_type="vault.detokenize")
    result = subprocess.run(
        [RAMPART, "audit", "tail", "-n", "1"],
        env={**os.environ, "COLUMNS": "80"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert actor in result.stdout
    assert resource in result.stdout
    assert "vault.detokenize" in result.stdout
    assert "…" not in result.stdout


def _openssl_verify(workdir: Path) -> subprocess.CompletedProcess[str]:
    """The recipe of docs/audit.md, word for word."""
    return openssl_verify(workdir, "message.bin", "signature.bin")


def test_openssl_verifies_a_checkpoint_exported_by_the_cli(
    sessions: sessionmaker[Session], local_keys: LocalKeyProvider, tmp_path: Path
) -> None:
    runner = CliRunner()
    append_events(sessions, 4)
    assert runner.invoke(app, ["audit", "sign", "--force"]).exit_code == 0
    workdir = tmp_path / "auditor"
    workdir.mkdir()

    key = subprocess.run(
        [RAMPART, "audit", "public-key"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert key.stdout.startswith("-----BEGIN PUBLIC KEY-----\n")
    (workdir / "public-key.pem").write_text(key.stdout)
    fingerprint = key.stderr.strip().rsplit(" ", 1)[-1]
    # The auditor recomputes the fingerprint from the PEM alone: the raw key is the last 32
    # bytes of the DER SubjectPublicKeyInfo.
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-in", "public-key.pem", "-outform", "DER"],
        cwd=workdir,
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout
    assert hashlib.sha256(der[-32:]).hexdigest() == fingerprint

    shown = runner.invoke(app, ["audit", "checkpoint", "4", "--output", str(workdir), "--json"])
    assert shown.exit_code == 0, shown.output
    checkpoint = json.loads(shown.stdout)
    assert checkpoint["key_fingerprint"] == fingerprint
    assert checkpoint["message"] == f"rampart-audit-checkpoint/v1|4|{checkpoint['hash']}"
    assert (workdir / "message.bin").read_bytes() == checkpoint["message"].encode()
    assert base64.b64decode(checkpoint["signature"]) == (workdir / "signature.bin").read_bytes()

    verified = _openssl_verify(workdir)
    assert verified.returncode == 0, verified.stderr
    assert "Signature Verified Successfully" in verified.stdout

    message = bytearray((workdir / "message.bin").read_bytes())
    message[-1] ^= 0x01  # one flipped bit of the signed hash
    (workdir / "message.bin").write_bytes(bytes(message))
    refused = _openssl_verify(workdir)
    assert refused.returncode != 0
    assert "Signature Verified Successfully" not in refused.stdout


def test_checkpoint_defaults_to_the_newest_and_refuses_an_unknown_seq(
    sessions: sessionmaker[Session], local_keys: LocalKeyProvider
) -> None:
    runner = CliRunner()
    none_yet = runner.invoke(app, ["audit", "checkpoint"])
    assert none_yet.exit_code == 1
    assert none_yet.stderr == "error: no checkpoint signed yet\n"
    append_events(sessions, 2)
    assert runner.invoke(app, ["audit", "sign", "--force"]).exit_code == 0
    newest = runner.invoke(app, ["audit", "checkpoint"])
    assert newest.exit_code == 0, newest.output
    assert "message: rampart-audit-checkpoint/v1|2|" in newest.stdout
    unknown = runner.invoke(app, ["audit", "checkpoint", "1"])
    assert unknown.exit_code == 1
    assert unknown.stderr == "error: no checkpoint at seq 1\n"
