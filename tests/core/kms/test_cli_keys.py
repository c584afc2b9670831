"""`rampart keys list|rotate|rewrap` on both databases and both providers; errors are one line
on stderr with exit code 2 when the KMS is unreachable."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from cli.keys import app
from core.database import unit_of_work
from core.kms import service
from core.settings import Settings
from tests.core.kms.conftest import use_vault
from tests.fixtures.openbao import OpenBaoServer

RAMPART = str(Path(sys.executable).with_name("rampart"))
runner = CliRunner()


def _json(*args: str) -> dict[str, object]:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_list_rotate_and_rewrap(kms: str, sessions: sessionmaker[Session]) -> None:
    with unit_of_work(sessions) as session:
        service.create_data_keys(session, "subject", 3)
    listed = _json("list")
    assert listed["provider"] == kms
    assert (listed["latest_version"], listed["min_decryption_version"]) == (1, 1)
    assert listed["data_keys_by_kek_version"] == {"1": 3}
    assert len(str(listed["signing_key_fingerprint"])) == 64

    rotated = _json("rotate", "--batch-size", "2")
    assert rotated["from_version"] == 1 and rotated["latest_version"] == 2
    assert (rotated["rewrapped"], rotated["remaining"]) == (3, 0)
    assert _json("list")["data_keys_by_kek_version"] == {"2": 3}

    partial = _json("rotate", "--no-rewrap")
    assert (partial["latest_version"], partial["rewrapped"], partial["remaining"]) == (3, 0, 3)
    assert _json("rewrap")["rewrapped"] == 3
    assert _json("list")["data_keys_by_kek_version"] == {"3": 3}


def test_human_output_keeps_progress_off_stdout(kms: str, sessions: sessionmaker[Session]) -> None:
    with unit_of_work(sessions) as session:
        service.create_data_keys(session, "subject", 2)
    result = runner.invoke(app, ["rotate"])
    assert result.exit_code == 0, result.stderr
    assert "rotated" in result.stdout and "rewrapped 2 data keys, 0 left" in result.stdout
    listed = runner.invoke(app, ["list"])
    assert listed.exit_code == 0 and "Key-encryption key" in listed.stdout


def test_unreachable_kms_is_one_stderr_line_and_exit_2(
    settings: Settings, openbao: OpenBaoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    use_vault(monkeypatch, openbao, RAMPART_VAULT_ADDR=f"http://127.0.0.1:{closed_port}")
    result = subprocess.run(
        [RAMPART, "keys", "list", "--json"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: OpenBao/Vault at http://127.0.0.1:")
    assert openbao.token not in result.stderr
