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
