"""`rampart dsar connector` (cli.dsar_connectors, typer's CliRunner) against the real app and
guard: the CLI's ServerClient calls go to the in-process app (TestClient) with an officer's real
token, and refusals become cli.api's errors. A secret given by env var is never printed; a
generated one is printed once; listings never show it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cli import dsar_connectors
from cli.api import error_of
from tests.policies.authz_support import api, authz_settings, bearer

__all__ = ["api", "authz_settings", "bearer"]  # fixtures used by name

runner = CliRunner()
OFFICER = "p, client:officer, rampart, dsar/*, *, allow,"
SECRET = "the-secret-from-the-environment-0001"


class InProcessServer:
    """cli.api.ServerClient's calls, sent to the in-process app instead of over TCP."""

    def __init__(self, http: TestClient, headers: dict[str, str]) -> None:
        self.http, self.headers = http, headers

    def request(self, method: str, path: str, *, json: Any = None) -> httpx.Response:
        response: httpx.Response = self.http.request(method, path, json=json, headers=self.headers)
        if response.status_code >= 400:
            raise error_of(response, "http://testserver")
        return response

    def get_json(self, path: str) -> Any:
        return self.request("GET", path).json()

    def post_json(self, path: str, body: Any) -> Any:
        return self.request("POST", path, json=body).json()


@pytest.fixture
def cli(
    api: TestClient, bearer: Callable[..., dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = InProcessServer(api, bearer("officer", OFFICER))
    monkeypatch.setattr(dsar_connectors, "_server", lambda: server)


def test_webhook_lifecycle_never_prints_a_given_secret(
    cli: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_SECRET", SECRET)
    app = dsar_connectors.app
    added = runner.invoke(
        app,
        ["add-webhook", "crm", "--url", "https://crm.shop.example/rampart/dsar",
         "--type", "access", "--type", "erasure", "--secret-env", "CRM_SECRET", "--json"],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert SECRET not in added.output
    assert json.loads(added.stdout)["secret"] is None
    listed = runner.invoke(app, ["list", "--json"])
    assert [c["name"] for c in json.loads(listed.stdout)] == ["crm"]
    shown = runner.invoke(app, ["show", "crm"])
    assert "has_secret: True" in shown.output and SECRET not in shown.output

    generated = runner.invoke(app, ["rotate-secret", "crm", "--json"])
    secret = json.loads(generated.stdout)["secret"]
    assert len(secret) >= 32
    assert secret not in runner.invoke(app, ["list"]).output
    assert runner.invoke(app, ["update", "crm", "--timeout", "3"]).exit_code == 0
    assert runner.invoke(app, ["disable", "crm"]).stdout.strip() == "disabled crm"
    assert runner.invoke(app, ["remove", "crm"]).exit_code == 0
    missing = runner.invoke(app, ["show", "crm"])
    assert missing.exit_code == 1
    assert missing.stdout == ""
    errors = [line for line in missing.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "answered 404" in errors[0]


def test_manual_connector_and_errors_are_one_line(cli: None) -> None:
    app = dsar_connectors.app
    added = runner.invoke(
        app,
        ["add-manual", "archive", "--instructions", "Cabinet B.", "--assignee",
         "archive@shop.example", "--type", "erasure"],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "assignee_email: archive@shop.example" in added.output
    tasks = runner.invoke(app, ["tasks", "--json"])
    assert tasks.exit_code == 0 and json.loads(tasks.stdout) == []
    unknown = runner.invoke(
        app, ["task-done", "0193a5c0-0000-7000-8000-000000000001", "archive", "--json"]
    )
    assert unknown.exit_code == 1 and "answered 404" in unknown.output
    unset = runner.invoke(app, ["rotate-secret", "archive", "--secret-env", "NOT_SET_ANYWHERE"])
    assert unset.exit_code == 1 and "NOT_SET_ANYWHERE" in unset.output
