"""The `rampart` command's shape: sub-command groups load only when they run (so `--help` does
not import SQLAlchemy, FastAPI, authlib, Casbin or cryptography), every registered command
loads, and help reads naturally (flags without type tags, no `--no-no-`)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from cli.main import COMMANDS, LazyCommand, app

ROOT = Path(__file__).resolve().parents[2]
# (pydantic is not listed: typer itself uses it to convert parameters.)
HEAVY = ("sqlalchemy", "fastapi", "authlib", "casbin", "cryptography", "alembic", "yaml")
# The groups whose modules are kept light at import; the others' modules (vault, compliance)
# import their domain at the top (their `--help` loads it, the top-level help does not).
LIGHT_GROUPS = (
    "audit",
    "db",
    "keys",
    "jobs",
    "policy",
    "apply",
    "init",
    "serve",
    "worker",
    "user",
    "client",
)

runner = CliRunner()


def _heavy_modules_after(
    argv: list[str], modules: tuple[str, ...] = HEAVY, env: dict[str, str] | None = None
) -> list[str]:
    """Run `rampart ARGV` in a fresh interpreter; which of ``modules`` it imported."""
    script = (
        "import json, sys\n"
        "from cli.main import app\n"
        "try:\n"
        f"    app({argv!r})\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        f"print(json.dumps([m for m in {modules!r} if m in sys.modules]), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stderr.strip().splitlines()[-1]))


def test_importing_the_cli_imports_no_domain_library() -> None:
    script = f"import sys, cli.main; print([m for m in {HEAVY!r} if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("argv", [["--help"], *([group, "--help"] for group in LIGHT_GROUPS)])
def test_help_imports_no_domain_library(argv: list[str]) -> None:
    assert _heavy_modules_after(argv) == []


def test_the_listing_names_every_registered_command_without_loading_it() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    for entry in COMMANDS:
        assert f"  {entry.name} " in result.stdout
    root = get_command(app)
    assert all(isinstance(root.commands[entry.name], LazyCommand) for entry in COMMANDS)  # type: ignore[attr-defined]


@pytest.mark.parametrize("entry", COMMANDS, ids=lambda entry: entry.name)
def test_every_registered_command_loads_and_answers_help(entry: object) -> None:
    name = entry.name  # type: ignore[attr-defined]
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert f"Usage: rampart {name}" in result.stdout


def test_an_unknown_command_is_one_error_and_exit_2() -> None:
    result = runner.invoke(app, ["no-such-command"])
    assert result.exit_code == 2
    assert "No such command 'no-such-command'" in result.stderr


def _command_paths() -> Iterator[list[str]]:
    """Every command and group of the tree, as the argv that reaches it."""
    root = get_command(app)

    def walk(command: object, path: list[str]) -> Iterator[list[str]]:
        yield path
        real = command.loaded() if isinstance(command, LazyCommand) else command
        for name in getattr(real, "commands", {}):
            yield from walk(real.commands[name], [*path, name])  # type: ignore[attr-defined]

    yield from walk(root, [])


def test_flags_carry_no_type_tag_anywhere() -> None:
    for path in _command_paths():
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        for line in result.stdout.splitlines():
            assert "<bool>" not in line and "BOOLEAN" not in line, (path, line)


def test_boolean_flags_read_naturally() -> None:
    for path in _command_paths():
        if path[:1] and path[0] not in LIGHT_GROUPS:
            continue
        help_text = runner.invoke(app, [*path, "--help"]).stdout
        assert "--no-no-" not in help_text, path
    rotate = runner.invoke(app, ["keys", "rotate", "--help"]).stdout
    assert "--no-rewrap " in rotate and "--json " in rotate
    assert "--limit <int" in runner.invoke(app, ["audit", "tail", "--help"]).stdout
