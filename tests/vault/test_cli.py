"""`rampart vault tokenize|detokenize|reveal|stats` as an operator runs them: items from stdin or
a file (never argv), results on stdout, one error line per bad item on stderr. The data-plane
commands run here in break-glass mode (no server); through the API: tests/cli/test_login.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import Settings

RAMPART = str(Path(sys.executable).with_name("rampart"))
# Each call starts a process; the service code under it is tested on both backends elsewhere.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
GLASS = ("--break-glass", "--reason", "test of the direct mode")


def _rampart(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RAMPART, "vault", *args],
        input=stdin,
        env={**os.environ, "RAMPART_LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_roundtrip_from_stdin_and_file(local_kms: Settings, tmp_path: Path) -> None:
    made = _rampart(
        "tokenize", "--type", "pan", *GLASS, stdin="4111111111111111\n4111111111111112\n"
    )
    assert made.returncode == 1  # one bad line
    assert "line 2" in made.stderr and "4111111111111112" not in made.stderr
    token = made.stdout.strip()
    assert token.endswith("1111") and token != "4111111111111111"

    listing = tmp_path / "tokens.txt"
    listing.write_text(token + "\n")
    values = _rampart(
        "detokenize", "--type", "pan", "--purpose", "ops.check", "--file", str(listing), *GLASS
    )
    assert values.returncode == 0 and values.stdout.strip() == "4111111111111111"
    masked = _rampart("reveal", "--type", "pan", *GLASS, stdin=token + "\n")
    assert masked.stdout.strip() == "411111******1111"

    no_purpose = _rampart("detokenize", "--type", "pan", *GLASS, stdin=token + "\n")
    assert no_purpose.returncode != 0
    stats = json.loads(_rampart("stats", "--json").stdout)
    assert stats["tokens_by_type"] == {"pan": 1}


def test_cli_takes_no_values_from_argv(local_kms: Settings) -> None:
    refused = _rampart("tokenize", "--type", "pan", *GLASS, "4111111111111111")
    assert refused.returncode != 0
    assert "4111111111111111" not in refused.stdout
