"""`rampart vault` without a login: refused, unless break-glass with a reason, which is audited
`cli.break_glass` (naming the OS user and the reason) before any card data is read."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.database import unit_of_work
from core.settings import Settings
from tests.cli.login_support import cli_env, rampart
from tests.policies.authz_support import authz_settings

__all__ = ["authz_settings"]  # fixture used by name

PAN = "4111111111111111"
# Each call starts a process; the service code under it is tested on both backends elsewhere.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _events() -> list[AuditEntry]:
    with unit_of_work(read_only=True) as db:
        return list(db.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars())


def test_without_login_nothing_is_read(authz_settings: Settings, tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    refused = rampart(env, "vault", "detokenize", "--type", "pan", "--purpose", "x", stdin="t\n")
    assert refused.returncode == 1
    assert refused.stderr == "error: not logged in: run `rampart login`\n"
    no_reason = rampart(env, "vault", "reveal", "--type", "pan", "--break-glass", stdin="tok_x\n")
    assert no_reason.returncode == 1
    assert "--reason" in no_reason.stderr and "outside an interactive terminal" in no_reason.stderr
    blank = rampart(
        env, "vault", "reveal", "--type", "pan", "--break-glass", "--reason", "  ", stdin="t\n"
    )
    assert blank.returncode == 1
    kinds = {e.event_type for e in _events()}
    assert "cli.break_glass" not in kinds and "vault.revealed" not in kinds
    assert "vault.detokenized" not in kinds


def test_break_glass_is_audited_before_acting(authz_settings: Settings, tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    reason = ["--break-glass", "--reason", "INC-42 server down, refund due today"]
    made = rampart(env, "vault", "tokenize", "--type", "pan", *reason, stdin=PAN + "\n")
    assert made.returncode == 0, made.stderr
    assert made.stderr.startswith("warning: break-glass: vault tokenize")
    token = made.stdout.strip()
    values = rampart(
        env, "vault", "detokenize", "--type", "pan", "--purpose", "refund.issue", "--json",
        *reason, stdin=token + "\n",
    )  # fmt: skip
    assert values.returncode == 0, values.stderr
    assert [row["value"] for row in json.loads(values.stdout)] == [PAN]
    assert "warning: break-glass: vault detokenize" in values.stderr and PAN not in values.stderr

    events = _events()
    glass = [e for e in events if e.event_type == "cli.break_glass"]
    assert len(glass) == 2
    user = getpass.getuser()
    for entry in glass:
        details = json.loads(entry.details)
        assert entry.actor == f"cli:{user}" and details["os_user"] == user
        assert details["reason"] == "INC-42 server down, refund due today"
    (detokenized,) = [e for e in events if e.event_type == "vault.detokenized"]
    assert glass[1].seq < detokenized.seq and json.loads(glass[1].details)["command"] == (
        "vault detokenize"
    )
    assert detokenized.actor == f"cli:{user}"


def test_a_card_number_as_reason_is_refused(authz_settings: Settings, tmp_path: Path) -> None:
    refused = rampart(
        cli_env(tmp_path), "vault", "reveal", "--type", "pan", "--break-glass",
        "--reason", f"card {PAN}", stdin="t\n",
    )  # fmt: skip
    assert refused.returncode == 1 and PAN not in refused.stderr + refused.stdout
    assert not [e for e in _events() if e.event_type in ("cli.break_glass", "vault.revealed")]
