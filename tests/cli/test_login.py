"""`rampart login|whoami|logout` and the vault commands through the API, against a real server
process: the person approves the CLI's code on /device (with their second factor), the ledger
names them, the server's policies decide, and logging out revokes the tokens."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from core.audit.models import AuditEntry
from core.clock import utcnow
from core.database import unit_of_work
from core.settings import Settings
from iam.accounts.service import create_user
from iam.oauth2.models import DeviceAuthorization
from iam.oauth2.service import ensure_cli_client
from tests.cli.login_support import (
    PASSWORD,
    PendingLogin,
    browser,
    cli_env,
    decide,
    rampart,
)
from tests.policies.authz_support import add_policy_lines, authz_settings, make_service_client
from tests.policies.processes import free_port, rampart_process

__all__ = ["authz_settings"]  # fixture used by name

PAN = "4111111111111111"


@pytest.fixture
def server(authz_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real server whose issuer is its own address (discovery names reachable endpoints)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("RAMPART_ISSUER", base)
    with unit_of_work() as db:
        ensure_cli_client(db)
    env = {**os.environ, "RAMPART_SCHEDULER": "off", "RAMPART_LOG_LEVEL": "WARNING"}
    env.pop("RAMPART_REDIS_URL", None)
    with rampart_process(env, port=port) as url:
        yield url


def _user(email: str, roles: list[str]) -> str:
    with unit_of_work() as db:
        user, _ = create_user(db, email, password=PASSWORD, roles=roles, email_verified=True)
        return str(user.id)


def _entries(event_type: str) -> list[AuditEntry]:
    with unit_of_work(read_only=True) as db:
        return list(
            db.execute(
                select(AuditEntry)
                .where(AuditEntry.event_type == event_type)
                .order_by(AuditEntry.seq)
            ).scalars()
        )


def _log_in(env: dict[str, str], person: httpx.Client) -> tuple[str, str]:
    pending = PendingLogin(env)
    assert decide(person, pending.user_code, "approve").status_code == 200
    code, out, err = pending.finish()
    assert code == 0, err
    return out, err


def test_device_login_whoami_vault_through_the_api_and_logout(server: str, tmp_path: Path) -> None:
    operator = _user("op@shop.example", ["security_staff"])  # the role demands MFA
    plain = _user("staff@shop.example", ["staff"])
    add_policy_lines(f"p, user:{operator}, rampart, vault/pan, tokenize|detokenize, allow, mfa")
    env = cli_env(tmp_path / "op", server)

    out, err = _log_in(env, browser(server, "op@shop.example", enrol=True))
    assert "Logged in" in out and f"user:{operator}" in out
    credentials = tmp_path / "op" / "rampart" / "credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    stored = json.loads(credentials.read_text())
    for token in (stored["access_token"], stored["refresh_token"]):
        assert token not in out and token not in err  # never printed

    who = rampart(env, "whoami", "--json")
    assert who.returncode == 0, who.stderr
    identity = json.loads(who.stdout)
    assert identity["subject"] == f"user:{operator}"
    assert identity["roles"] == ["security_staff"] and identity["server"] == server
    assert identity["acr"] == "urn:rampart:acr:mfa" and {"otp", "mfa"} <= set(identity["amr"])
    assert stored["access_token"] not in who.stdout

    # An access token about to expire is refreshed (rotated pair stored, still 0600).
    credentials.write_text(json.dumps({**stored, "expires_at": 0}))
    refreshed = rampart(env, "whoami", "--json")
    assert refreshed.returncode == 0, refreshed.stderr
    renewed = json.loads(credentials.read_text())
    assert renewed["access_token"] != stored["access_token"]
    assert renewed["refresh_token"] != stored["refresh_token"] and renewed["expires_at"] > 0
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    stored = renewed

    made = rampart(env, "vault", "tokenize", "--type", "pan", stdin=PAN + "\n")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token and token != PAN
    values = rampart(
        env, "vault", "detokenize", "--type", "pan", "--purpose", "refund.check", "--json",
        stdin=token + "\n",
    )  # fmt: skip
    assert values.returncode == 0, values.stderr
    assert [row["value"] for row in json.loads(values.stdout)] == [PAN]
    (detokenized,) = _entries("vault.detokenized")
    assert detokenized.actor == f"user:{operator}"
    assert json.loads(detokenized.details)["purpose"] == "refund.check"

    # A person the policy does not allow: the server's 403 is one clear line.
    plain_env = cli_env(tmp_path / "plain", server)
    _log_in(plain_env, browser(server, "staff@shop.example"))
    refused = rampart(
        plain_env, "vault", "detokenize", "--type", "pan", "--purpose", "x", stdin=token + "\n"
    )
    assert refused.returncode == 1 and refused.stdout == ""
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {server} refused:"), refused.stderr
    assert PAN not in refused.stderr
    assert all(e.actor != f"user:{plain}" for e in _entries("vault.detokenized"))

    # A credentials file others may read is refused, not used.
    credentials.chmod(0o644)
    loose = rampart(env, "whoami")
    assert loose.returncode == 1 and "mode 0644" in loose.stderr
    credentials.chmod(0o600)

    introspector = make_service_client("svc-introspector")
    auth = (introspector.client_id, introspector.secret)

    def active(value: str) -> bool:
        answer = httpx.post(server + "/oauth2/introspect", data={"token": value}, auth=auth)
        assert answer.status_code == 200, answer.text
        return bool(answer.json()["active"])

    assert active(stored["access_token"])
    out_ = rampart(env, "logout")
    assert out_.returncode == 0, out_.stderr
    assert not credentials.exists()
    assert not active(stored["access_token"])
    refresh = httpx.post(
        server + "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": stored["refresh_token"],
            "client_id": "rampart-cli",
        },
    )
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"
    after = rampart(env, "vault", "reveal", "--type", "pan", stdin=token + "\n")
    assert after.returncode == 1
    assert after.stderr.strip() == "error: not logged in: run `rampart login`"


def test_denied_and_expired_logins_end_with_one_line(server: str, tmp_path: Path) -> None:
    _user("ann@shop.example", ["staff"])
    env = cli_env(tmp_path / "ann", server)
    person = browser(server, "ann@shop.example")

    denied = PendingLogin(env)
    assert decide(person, denied.user_code, "deny").status_code == 200
    code, _, err = denied.finish()
    assert code == 1 and err == "error: the login was denied on the device page\n"

    late = PendingLogin(env)
    with unit_of_work() as db:
        db.execute(
            update(DeviceAuthorization)
            .where(DeviceAuthorization.status == "pending")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    code, _, err = late.finish()
    assert code == 1
    assert err == "error: the code expired before it was approved: run `rampart login` again\n"
    assert not (tmp_path / "ann" / "rampart" / "credentials.json").exists()


def test_login_refuses_plain_http_to_another_host(tmp_path: Path) -> None:
    refused = rampart(cli_env(tmp_path), "login", "--server", "http://rampart.shop.example")
    assert refused.returncode == 1
    assert refused.stderr == (
        "error: http://rampart.shop.example: tokens go only over https "
        "(plain http only to a loopback host)\n"
    )
