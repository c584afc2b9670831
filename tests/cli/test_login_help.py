"""`rampart login|logout|whoami --help` and `rampart vault --help` load no domain library: the
new modules import only typer (and the standard library) at the top."""

from __future__ import annotations

import pytest

from tests.cli.test_main import _heavy_modules_after


@pytest.mark.parametrize("command", ["login", "logout", "whoami", "vault"])
def test_help_imports_nothing_heavy(command: str) -> None:
    assert _heavy_modules_after([command, "--help"]) == []
