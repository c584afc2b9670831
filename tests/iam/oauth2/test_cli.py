"""`rampart client`: create shows the secret once (and --json), list never shows it, rotate
replaces it, delete removes the client."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.main import app
from iam.oauth2.models import OAuth2Client

runner = CliRunner()


def _token(http: TestClient, client_id: str, secret: str) -> int:
    response = http.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    return int(response.status_code)


def test_client_lifecycle(http: TestClient, db: Session) -> None:
    created = runner.invoke(
        app,
        [
            "client",
            "create",
            "billing",
            "--grant",
            "client_credentials",
            "--scope",
            "orders:read",
            "--json",
        ],
    )
    assert created.exit_code == 0, created.output
    body = json.loads(created.stdout)
    secret = body["client_secret"]
    assert secret.startswith("rps_") and len(secret) >= 4 + 43
    assert _token(http, body["client_id"], secret) == 200

    row = db.execute(select(OAuth2Client).where(OAuth2Client.name == "billing")).scalar_one()
    assert row.secret_hash is not None and secret.encode() not in row.secret_hash
    db.rollback()

    listed = runner.invoke(app, ["client", "list", "--json"])
    assert listed.exit_code == 0 and secret not in listed.stdout
    assert [c["name"] for c in json.loads(listed.stdout)] == ["billing"]

    rotated = runner.invoke(app, ["client", "rotate-secret", body["client_id"], "--json"])
    new_secret = json.loads(rotated.stdout)["client_secret"]
    assert new_secret != secret
    assert _token(http, body["client_id"], secret) == 401
    assert _token(http, body["client_id"], new_secret) == 200

    duplicate = runner.invoke(app, ["client", "create", "billing"])
    assert duplicate.exit_code == 1 and "already exists" in duplicate.stderr

    deleted = runner.invoke(app, ["client", "delete", body["client_id"], "--yes"])
    assert deleted.exit_code == 0
    assert _token(http, body["client_id"], new_secret) == 401
    missing = runner.invoke(app, ["client", "delete", body["client_id"], "--yes"])
    assert missing.exit_code == 1


def test_invalid_client_is_refused_with_a_message(http: TestClient) -> None:
    result = runner.invoke(
        app, ["client", "create", "spa", "--type", "public", "--grant", "client_credentials"]
    )
    assert result.exit_code == 1 and "public client cannot use client_credentials" in result.stderr


def _create(name: str, *extra: str) -> dict[str, object]:
    created = runner.invoke(app, ["client", "create", name, *extra, "--json"])
    assert created.exit_code == 0, created.output
    body: dict[str, object] = json.loads(created.stdout)
    return body


def test_delete_outside_a_terminal_asks_for_yes_and_deletes_nothing(
    http: TestClient, db: Session
) -> None:
    body = _create("billing", "--grant", "client_credentials")
    refused = runner.invoke(app, ["client", "delete", str(body["client_id"])], input="y\n")
    assert refused.exit_code == 1 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "--yes" in refused.stderr
    assert db.execute(select(OAuth2Client).where(OAuth2Client.name == "billing")).scalar_one()
    db.rollback()
    assert _token(http, str(body["client_id"]), str(body["client_secret"])) == 200


def test_update_changes_what_is_given_audited_and_disable_refuses_tokens(
    http: TestClient, db: Session
) -> None:
    from core.audit.models import AuditEntry

    body = _create("billing", "--grant", "client_credentials", "--scope", "orders:read")
    client_id, secret = str(body["client_id"]), str(body["client_secret"])
    updated = runner.invoke(
        app,
        ["client", "update", client_id, "--name", "billing-v2", "--scope", "orders:read",
         "--scope", "orders:write", "--json"],
    )  # fmt: skip
    assert updated.exit_code == 0, updated.output
    view = json.loads(updated.stdout)
    assert view["name"] == "billing-v2" and view["scopes"] == ["orders:read", "orders:write"]
    assert view["changed"] == ["name", "scopes"] and view["enabled"] is True
    assert "client_secret" not in view and secret not in updated.stdout
    assert view["grant_types"] == ["client_credentials"]  # untouched
    assert _token(http, client_id, secret) == 200

    disabled = runner.invoke(app, ["client", "update", client_id, "--disable", "--json"])
    assert disabled.exit_code == 0 and json.loads(disabled.stdout)["enabled"] is False
    assert _token(http, client_id, secret) == 401
    enabled = runner.invoke(app, ["client", "update", client_id, "--enable"])
    assert enabled.exit_code == 0 and "enabled" in enabled.stdout
    assert _token(http, client_id, secret) == 200

    events = [
        e.event_type
        for e in db.scalars(
            select(AuditEntry).where(AuditEntry.resource == f"oauth2_client:{client_id}")
        )
        if e.event_type.startswith("oauth2.client.")
    ]
    assert events[-3:] == [
        "oauth2.client.updated",
        "oauth2.client.disabled",
        "oauth2.client.enabled",
    ]
    db.rollback()

    nothing = runner.invoke(app, ["client", "update", client_id])
    assert nothing.exit_code == 1 and nothing.stderr.count("\n") == 1
    invalid = runner.invoke(app, ["client", "update", client_id, "--redirect-uri", "http://evil"])
    assert invalid.exit_code == 1 and "invalid client" in invalid.stderr
    missing = runner.invoke(app, ["client", "update", "rpc_nope", "--disable"])
    assert missing.exit_code == 1 and "not found" in missing.stderr
    shown = runner.invoke(app, ["client", "update", "--help"], env={"COLUMNS": "200"}).stdout
    assert "--no-no-" not in shown and "--disable" in shown
    for line in shown.splitlines():
        if "--disable" in line or "--third-party" in line:
            assert "<bool>" not in line and "BOOLEAN" not in line
