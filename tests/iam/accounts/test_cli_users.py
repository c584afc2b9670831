"""`rampart user create|list|disable|enable|reset-password|reset-mfa` with --json; passwords never
from argv; creating never touches an existing account."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.main import app
from core.audit.models import AuditEntry
from core.clock import utcnow
from iam.accounts.passwords import verify_password
from iam.accounts.service import get_user_by_email
from tests.iam.accounts.support import PASSWORD

runner = CliRunner()


def _json(args: list[str], **kwargs: object) -> dict[str, object] | list[dict[str, object]]:
    result = runner.invoke(app, [*args, "--json"], **kwargs)  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    data: dict[str, object] | list[dict[str, object]] = json.loads(result.stdout)
    return data


def test_create_reads_the_password_from_stdin(db: Session) -> None:
    created = _json(
        ["user", "create", "ops@example.com", "--role", "admin", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert isinstance(created, dict) and created["created"] is True
    assert created["roles"] == ["admin"] and "password" not in created
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


OTHER_PASSWORD = "another Long passphrase 42!"


def _entries(db: Session, event_type: str) -> list[AuditEntry]:
    return list(db.scalars(select(AuditEntry).where(AuditEntry.event_type == event_type)))


def test_create_refuses_an_existing_account_and_leaves_its_password(db: Session) -> None:
    _json(["user", "create", "ops@example.com", "--password-stdin"], input=PASSWORD + "\n")
    again = runner.invoke(
        app, ["user", "create", "OPS@example.com", "--password-stdin"], input=OTHER_PASSWORD + "\n"
    )
    assert again.exit_code == 1
    assert again.stdout == ""
    assert again.stderr.count("\n") == 1 and "already exists" in again.stderr
    assert "reset-password" in again.stderr
    assert OTHER_PASSWORD not in again.output
    db.expire_all()
    user = get_user_by_email(db, "ops@example.com")
    assert user is not None and user.password_hash is not None
    assert verify_password(user.password_hash, PASSWORD)
    assert len(_entries(db, "iam.user.password_set")) == 1
    create_help = runner.invoke(app, ["user", "create", "--help"], env={"COLUMNS": "200"})
    assert "reset-password" in create_help.stdout
    db.rollback()


def test_reset_password_is_its_own_audited_command_with_optional_mfa_reset(db: Session) -> None:
    _json(["user", "create", "ops@example.com", "--password-stdin"], input=PASSWORD + "\n")
    reset = _json(
        ["user", "reset-password", "ops@example.com", "--password-stdin", "--reason", "forgot"],
        input=OTHER_PASSWORD + "\n",
    )
    assert isinstance(reset, dict) and reset["mfa_reset"] is False and "password" not in reset
    db.expire_all()
    user = get_user_by_email(db, "ops@example.com")
    assert user is not None and user.password_hash is not None
    assert verify_password(user.password_hash, OTHER_PASSWORD)
    [entry] = _entries(db, "iam.user.password_reset")
    assert entry.actor.startswith("cli:") and entry.resource == f"user:{user.id}"
    assert json.loads(entry.details)["reason"] == "forgot"
    assert OTHER_PASSWORD not in entry.details
    assert _entries(db, "iam.mfa.reset") == []
    db.rollback()

    generated = _json(
        ["user", "reset-password", "ops@example.com", "--generate-password", "--reset-mfa"]
    )
    assert isinstance(generated, dict) and generated["mfa_reset"] is True
    db.expire_all()
    user = get_user_by_email(db, "ops@example.com")
    assert user is not None and user.password_hash is not None
    assert verify_password(user.password_hash, str(generated["password"]))
    assert len(_entries(db, "iam.mfa.reset")) == 1
    assert len(_entries(db, "iam.user.password_reset")) == 2
    db.rollback()

    reused = runner.invoke(
        app,
        ["user", "reset-password", "ops@example.com", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert reused.exit_code == 1 and reused.stderr.count("\n") == 1  # last four are refused
    missing = runner.invoke(
        app, ["user", "reset-password", "nobody@example.com", "--generate-password"]
    )
    assert missing.exit_code == 1 and "no user" in missing.stderr
    db.rollback()


def test_enable_lifts_the_lockout_of_an_active_account(db: Session) -> None:
    _json(["user", "create", "ops@example.com", "--no-password"])
    user = get_user_by_email(db, "ops@example.com")
    assert user is not None
    user.failed_logins = 3
    user.locked_until = utcnow() + timedelta(minutes=30)
    db.commit()
    enabled = _json(["user", "enable", "ops@example.com"])
    assert isinstance(enabled, dict) and enabled["changed"] is True
    assert enabled["status"] == "active" and enabled["locked_until"] is None
    db.expire_all()
    user = get_user_by_email(db, "ops@example.com")
    assert user is not None and user.locked_until is None and user.failed_logins == 0
    assert len(_entries(db, "iam.user.unlocked")) == 1
    db.rollback()
    again = _json(["user", "enable", "ops@example.com"])
    assert isinstance(again, dict) and again["changed"] is False
    db.rollback()


def test_switches_read_as_plain_flags_in_help() -> None:
    for command in ("create", "reset-password"):
        shown = runner.invoke(app, ["user", command, "--help"], env={"COLUMNS": "200"}).stdout
        assert "--no-no-" not in shown and "--no-password-stdin" not in shown
        for line in shown.splitlines():
            if "--password-stdin" in line or "--generate-password" in line:
                assert "<bool>" not in line and "BOOLEAN" not in line
