"""`rampart dashboard engagement` against a real server process, as a compliance officer logged
in with a second factor (a stored login holding a real signed token): open (dates and ISO
times for the expiry), list (active, or all), revoke, `--json` everywhere, the ledger naming
the officer; refusals (unknown framework or auditor, bad input, an auditor opening one) are one
stderr line and exit 1."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from cli.credentials import StoredLogin, save_login
from cli.main import app
from core.audit.models import AuditEntry
from core.clock import utcnow
from core.database import unit_of_work
from core.settings import Settings, get_settings
from iam.accounts.service import create_user
from iam.oauth2.tokens import Subject, mint_access_token
from tests.policies.authz_support import authz_settings
from tests.policies.processes import free_port, rampart_process

__all__ = ["authz_settings"]  # fixture used by name
runner = CliRunner()
AUDITOR = "ada@audit.example"
LogIn = Callable[[str, str], str]


@pytest.fixture
def log_in(
    authz_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[LogIn]:
    """A real server (its issuer its own address); ``log_in(email, role)`` makes the account
    and stores its login with MFA for the CLI, returning the user id."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("RAMPART_ISSUER", base)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    get_settings.cache_clear()

    def as_user(email: str, role: str) -> str:
        with unit_of_work() as db:
            user, _ = create_user(db, email, roles=[role])
            subject = Subject(user_id=user.id, auth_time=utcnow(), amr=["pwd", "otp", "mfa"])
            token, _, _ = mint_access_token(
                db, client_id="rampart-cli", subject=subject, scope="", audience=[base]
            )
        save_login(
            StoredLogin(
                server=base,
                client_id="rampart-cli",
                token_endpoint=f"{base}/oauth2/token",
                revocation_endpoint=f"{base}/oauth2/revoke",
                userinfo_endpoint=f"{base}/oauth2/userinfo",
                access_token=token,
                expires_at=time.time() + 3600,
            )
        )
        return str(user.id)

    env = {**os.environ, "RAMPART_SCHEDULER": "off", "RAMPART_LOG_LEVEL": "WARNING"}
    env.pop("RAMPART_REDIS_URL", None)
    httpx_log = logging.getLogger("httpx")  # the CLI's own runs log at WARNING
    level = httpx_log.level
    httpx_log.setLevel(logging.WARNING)
    try:
        with rampart_process(env, port=port):
            yield as_user
    finally:
        httpx_log.setLevel(level)


def _ok(*args: str) -> Any:
    result = runner.invoke(app, ["dashboard", "engagement", *args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _refused(*args: str) -> str:
    result = runner.invoke(app, ["dashboard", "engagement", *args])
    assert result.exit_code == 1, result.stdout
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    return result.stderr


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_an_officer_opens_lists_and_revokes_engagements(log_in: LogIn) -> None:
    with unit_of_work() as db:
        auditor, _ = create_user(db, AUDITOR, roles=["auditor"])
        auditor_id = str(auditor.id)
    officer_id = log_in("officer@shop.example", "compliance_officer")
    last_day = (utcnow() + timedelta(days=30)).date()
    period = ["--from", "2026-01-01", "--to", "2026-06-30"]
    expires = ["--expires", last_day.isoformat()]
    first = _ok("open", "--auditor", AUDITOR, "--framework", "dash-pci",
                "--framework", "dash-privacy", *period, *expires)  # fmt: skip
    assert first["auditor"] == auditor_id and first["active"] is True
    assert first["frameworks"] == ["dash-pci", "dash-privacy"]
    assert (first["period_from"], first["period_to"]) == ("2026-01-01", "2026-06-30")
    # A date: through that day, so it ends at the next midnight (UTC).
    start_of_last_day = datetime(last_day.year, last_day.month, last_day.day, tzinfo=UTC)
    assert _moment(first["expires_at"]) == start_of_last_day + timedelta(days=1)

    shown = runner.invoke(app, ["dashboard", "engagement", "open", "--auditor", auditor_id,
                                "--framework", "dash-pci", *period,
                                "--expires", "2027-01-01T12:00:00+02:00"])  # fmt: skip
    assert shown.exit_code == 0, shown.stderr
    assert shown.stdout.startswith("opened ") and "dash-pci" in shown.stdout
    listed = _ok("list")["engagements"]
    assert len(listed) == 2 and all(row["active"] for row in listed)
    second = listed[0]  # newest first
    assert _moment(second["expires_at"]) == datetime(2027, 1, 1, 10, tzinfo=UTC)

    revoked = _ok("revoke", first["id"])
    assert revoked["id"] == first["id"] and revoked["active"] is False and revoked["revoked_at"]
    assert [row["id"] for row in _ok("list")["engagements"]] == [second["id"]]
    every = _ok("list", "--all")["engagements"]
    assert [row["id"] for row in every] == [second["id"], first["id"]]
    table = runner.invoke(app, ["dashboard", "engagement", "list", "--all"])
    assert table.exit_code == 0 and "revoked" in table.stdout and "active" in table.stdout
    assert first["id"] in table.stdout

    with unit_of_work(read_only=True) as db:
        entries = db.scalars(
            select(AuditEntry)
            .where(AuditEntry.event_type.startswith("dashboard.engagement_"))
            .order_by(AuditEntry.seq)
        ).all()
    assert [e.event_type.rsplit("_", 1)[1] for e in entries] == ["opened", "opened", "revoked"]
    assert {e.actor for e in entries} == {f"user:{officer_id}"}


def test_refusals_are_one_line_and_exit_1(log_in: LogIn) -> None:
    with unit_of_work() as db:
        create_user(db, AUDITOR, roles=["auditor"])
    log_in("officer@shop.example", "compliance_officer")
    later = (utcnow() + timedelta(days=30)).date().isoformat()
    good = ["--auditor", AUDITOR, "--framework", "dash-pci", "--from", "2026-01-01",
            "--to", "2026-06-30", "--expires", later]  # fmt: skip

    def but(option: str, value: str) -> list[str]:
        changed = list(good)
        changed[changed.index(option) + 1] = value
        return changed

    assert "unknown or no frameworks: nope" in _refused("open", *but("--framework", "nope"))
    assert "answered 404" in _refused("open", *but("--auditor", "nobody@audit.example"))
    assert "--from must be a date" in _refused("open", *but("--from", "2026-13-01"))
    assert "--expires must be" in _refused("open", *but("--expires", "next week"))
    assert "already have expired" in _refused("open", *but("--expires", "2026-01-01"))
    assert "period ends before it starts" in _refused("open", *but("--to", "2025-12-31"))
    assert "is not an engagement id" in _refused("revoke", "12")
    assert "answered 404" in _refused("revoke", "0190e3a5-0000-7000-8000-000000000000")
    assert _ok("list", "--all")["engagements"] == []

    log_in("auditor2@audit.example", "auditor")  # auditors may list, not open
    assert "refused" in _refused("open", *good)
    assert _ok("list")["engagements"] == []
