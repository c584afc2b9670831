"""`rampart user create|list|disable|enable|reset-mfa` with --json; passwords never from argv."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.main import app
from core.audit.models import AuditEntry
from iam.accounts.passwords import verify_password
from iam.accounts.service import get_user_by_email
from tests.iam.accounts.support import PASSWORD

runner = CliRunner()


def _json(args: list[str], **kwargs: object) -> dict[str, object] | list[dict[str, object]]:
    result = runner.invoke(app, [*args, "--json"], **kwargs)  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    data: dict[str, object] | list[dict[str, object]] = json.loads(result.stdout)
    return data


def test_create_reads_the_password_from_stdin_and_is_idempotent(db: Session) -> None:
    created = _json(
        ["user", "create", "ops@example.com", "--role", "admin", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert isinstance(created, dict) and created["created"] is True
    assert created["roles"] == ["admin"] and "password" not in created
    again = _json(["user", "create", "ops@example.com", "--no-password"])
    assert isinstance(again, dict) and again["created"] is False
    user = get_user_by_email(db, "ops@example.com")
    assert user is not None and user.password_hash is not None
    assert verify_password(user.password_hash, PASSWORD)
    actors = {e.actor for e in db.scalars(select(AuditEntry))}
    assert any(actor.startswith("cli:") for actor in actors)
    db.rollback()


def test_password_from_env_weak_password_refused_and_generated_shown_once(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAMPART_USER_PASSWORD", "password1234")
    weak = runner.invoke(app, ["user", "create", "weak@example.com"])
    assert weak.exit_code == 1 and "common" in weak.output
    assert "password1234" not in weak.output
    monkeypatch.delenv("RAMPART_USER_PASSWORD")
    generated = _json(["user", "create", "gen@example.com", "--generate-password"])
    assert isinstance(generated, dict)
    password = str(generated["password"])
    user = get_user_by_email(db, "gen@example.com")
    assert user is not None and user.password_hash and verify_password(user.password_hash, password)
    assert get_user_by_email(db, "weak@example.com") is None
    db.rollback()


def test_list_disable_enable_and_reset_mfa(db: Session) -> None:
    _json(["user", "create", "a@example.com", "--no-password", "--role", "staff"])
    _json(["user", "create", "b@example.com", "--no-password"])
    listed = _json(["user", "list"])
    assert isinstance(listed, list)
    assert [u["email"] for u in listed] == ["a@example.com", "b@example.com"]
    assert listed[0]["mfa"] == [] and listed[0]["roles"] == ["staff"]
    disabled = _json(["user", "disable", "a@example.com", "--reason", "offboarding"])
    assert isinstance(disabled, dict) and disabled["status"] == "disabled" and disabled["changed"]
    only_disabled = _json(["user", "list", "--status", "disabled"])
    assert isinstance(only_disabled, list)
    assert [u["email"] for u in only_disabled] == ["a@example.com"]
    enabled = _json(["user", "enable", "a@example.com"])
    assert isinstance(enabled, dict) and enabled["status"] == "active"
    reset = _json(["user", "reset-mfa", "a@example.com"])
    assert isinstance(reset, dict) and reset["changed"] is False and reset["mfa"] == []
    missing = runner.invoke(app, ["user", "disable", "nobody@example.com"])
    assert missing.exit_code == 1 and "no user" in missing.output
