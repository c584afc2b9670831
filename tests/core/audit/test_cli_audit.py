"""`rampart audit verify|tail|checkpoint` against a real database and the local key provider."""

from __future__ import annotations

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
    signed = runner.invoke(app, ["audit", "checkpoint", "--force", "--json"])
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
    assert runner.invoke(app, ["audit", "checkpoint", "--force"]).exit_code == 0
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
