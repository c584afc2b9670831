"""Start-up stays cheap: `rampart <group> --help` loads the group's module but none of the
libraries its commands use (SQLAlchemy, FastAPI, authlib, Casbin), and a simple read loads the
database layer without the web framework or the policy engine. Asserted on the modules a fresh
interpreter imported, never on wall time (docs/performance.md reports that)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import COMMANDS
from tests.cli.test_main import _heavy_modules_after

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("sqlalchemy", "fastapi", "authlib", "casbin")


def _imported_after(argv: list[str], env: dict[str, str] | None = None) -> list[str]:
    return _heavy_modules_after(argv, HEAVY, env)


@pytest.mark.parametrize("group", [e.name for e in COMMANDS], ids=str)
def test_group_help_imports_no_heavy_library(group: str) -> None:
    assert _imported_after([group, "--help"]) == []


@pytest.mark.parametrize(
    "command",
    [["user", "create", "--help"], ["client", "update", "--help"], ["init", "--help"]],
    ids=" ".join,
)
def test_command_help_imports_no_heavy_library(command: list[str]) -> None:
    assert _imported_after(command) == []


@pytest.mark.parametrize(
    "read",
    [
        ["user", "list"],
        ["audit", "verify"],
        ["keys", "list"],
        ["vault", "stats"],
        ["compliance", "list"],
        ["compliance", "status"],
    ],
    ids=" ".join,
)
def test_a_simple_read_imports_no_web_framework_or_policy_engine(
    read: list[str], tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
    env.update(
        RAMPART_DATA_DIR=str(tmp_path),
        RAMPART_LOG_LEVEL="WARNING",
        RAMPART_ADMIN_PASSWORD="correct horse 42 battery",
    )
    init = subprocess.run(
        [sys.executable, "-c", "from cli.main import main; main()", "init", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert init.returncode == 0, init.stderr
    imported = _imported_after(read, env)
    assert "sqlalchemy" in imported  # the read really reached the database
    assert [m for m in imported if m != "sqlalchemy"] == []
