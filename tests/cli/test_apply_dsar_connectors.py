"""`rampart apply` with a `dsar_connectors:` section: created, then unchanged on a second run, a
changed secret in the environment rotates it; a secret read from the environment is never
printed, a generated one is printed once; a missing variable refuses the whole document."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.main import app
from compliance.gdpr import connector_service
from core.database import unit_of_work
from core.kms.provider import get_key_provider, reset_key_provider
from core.settings import Settings

runner = CliRunner()
SECRET = "crm-secret-from-the-environment-0001"
DOCUMENT = """\
version: 1
dsar_connectors:
  - name: crm
    kind: webhook
    url: https://crm.shop.example/rampart/dsar
    types: [access, erasure]
    secret_env: CRM_DSAR_SECRET
  - name: marketing
    kind: webhook
    url: https://marketing.shop.example/dsar
    types: [erasure, objection]
    timeout_seconds: 5
  - name: archive
    kind: manual
    types: [erasure]
    instructions: Shred the folder in cabinet B.
    assignee_email: archive@shop.example
"""


@pytest.fixture
def keyed_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    reset_key_provider()
    get_key_provider().ensure_keys()
    monkeypatch.setenv("CRM_DSAR_SECRET", SECRET)
    yield settings
    reset_key_provider()


def _apply(path: Path, *extra: str) -> tuple[Any, str]:
    result = runner.invoke(app, ["apply", "-f", str(path), "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.output


def test_connectors_are_created_then_unchanged_then_rotated(
    keyed_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rampart.yaml"
    path.write_text(DOCUMENT)
    planned, _ = _apply(path, "--dry-run")
    assert planned["created"] == [
        "dsar_connector:crm",
        "dsar_connector:marketing",
        "dsar_connector:archive",
    ]
    with unit_of_work(read_only=True) as db:
        assert connector_service.list_connectors(db) == []
    first, output = _apply(path)
    assert SECRET not in output
    assert list(first["connector_secrets"]) == ["marketing"]
    generated = first["connector_secrets"]["marketing"]
    with unit_of_work(read_only=True) as db:
        crm = connector_service.find(db, "crm")
        assert connector_service.secret_of(db, crm) == SECRET.encode()
        marketing = connector_service.find(db, "marketing")
        assert connector_service.secret_of(db, marketing) == generated.encode()
        assert marketing.timeout_seconds == 5.0

    second, output = _apply(path)
    assert len(second["unchanged"]) == 3 and second["connector_secrets"] == {}
    assert generated not in output

    monkeypatch.setenv("CRM_DSAR_SECRET", "a-new-crm-secret-from-the-env-0002")
    path.write_text(DOCUMENT.replace("[access, erasure]", "[access]"))
    third, output = _apply(path)
    assert third["updated"] == ["dsar_connector:crm"]
    assert "new-crm-secret" not in output
    with unit_of_work(read_only=True) as db:
        crm = connector_service.find(db, "crm")
        assert connector_service.secret_of(db, crm) == b"a-new-crm-secret-from-the-env-0002"
        assert json.loads(crm.types) == ["access"]


def test_a_missing_variable_or_an_inline_secret_refuses_the_document(
    keyed_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CRM_DSAR_SECRET")
    path = tmp_path / "rampart.yaml"
    path.write_text(DOCUMENT)
    refused = runner.invoke(app, ["apply", "-f", str(path)])
    assert refused.exit_code == 1 and "CRM_DSAR_SECRET" in refused.stderr
    with unit_of_work(read_only=True) as db:
        assert connector_service.list_connectors(db) == []
    path.write_text(DOCUMENT.replace("secret_env: CRM_DSAR_SECRET", f"secret: {SECRET}"))
    inline = runner.invoke(app, ["apply", "-f", str(path)])
    assert inline.exit_code == 1 and SECRET not in inline.output
