"""Dogfood (issue 14, item 10): the built-in engine, through the CLI, against Rampart's own
server (the real app in a uvicorn subprocess) finds nothing of medium risk or above."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli.main import app
from core.settings import Settings, get_settings
from tests.interop.conftest import live_server, live_settings  # noqa: F401  (fixtures)

runner = CliRunner()


@pytest.mark.parametrize("start", ["/login", "/healthz", "/.well-known/openid-configuration"])
def test_rampart_itself_has_nothing_of_medium_risk_or_above(
    live_server: str,  # noqa: F811
    start: str,
    live_settings: Settings,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAMPART_SCAN_ALLOW_PRIVATE_NETWORKS", "true")
    get_settings.cache_clear()
    added = runner.invoke(app, ["scan", "target", "add", live_server + start, "--name", "self"])
    assert added.exit_code == 0, added.output
    result = runner.invoke(app, ["scan", "run", "self", "--fail-on", "medium", "--json"])
    out = json.loads(result.stdout)
    assert out["scan"]["status"] == "complete" and out["scan"]["pages_done"] >= 1
    serious = [(f["rule"], f["url"]) for f in out["findings"] if f["risk"] not in ("info", "low")]
    assert serious == []
    assert result.exit_code in (0, 2)
