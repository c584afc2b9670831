"""`rampart apply -f FILE.yaml` on SQLite and PostgreSQL: creates from an empty database, changes
nothing the second time, updates a client, refuses a bad document before writing, and rolls the
whole document back when one object is refused midway."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli.main import app
from core.audit.models import AuditEntry
from core.database import unit_of_work
from core.kms.provider import get_key_provider, reset_key_provider
from core.settings import Settings
from iam.accounts.models import Role, User
from iam.oauth2 import service as oauth2
from iam.oauth2.models import OAuth2Client
from iam.oauth2.schemas import ClientSpec
from policies import service as policies

runner = CliRunner()

DOCUMENT = """\
version: 1
roles:
  - name: support
    description: Answers customers.
    requires_mfa: true
users:
  - email: Alice@Shop.example
    name: Alice
    roles: [admin]
    email_verified: true
  - email: carol@shop.example
    roles: [support, staff]
  - email: gone@shop.example
    status: disabled
clients:
  - name: back-office
    grant_types: [authorization_code, refresh_token]
    redirect_uris: [https://admin.shop.example/callback]
    scopes: [openid, email]
  - name: order-sync
    scopes: [orders:read]
  - name: storefront
    client_type: public
    grant_types: [authorization_code]
    redirect_uris: [https://shop.example/callback]
policies:
  reason: support may read users
  policy:
    - p, role:support, rampart, users, read|list, allow, mfa
"""


@pytest.fixture
def keyed_settings(settings: Settings) -> Iterator[Settings]:
    """Client secrets are peppered with a KMS data key: the local key file must exist."""
    reset_key_provider()
    get_key_provider().ensure_keys()
    yield settings
    reset_key_provider()


def _write(tmp_path: Path, text: str, name: str = "rampart.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _apply(path: Path, *extra: str) -> Any:
    result = runner.invoke(app, ["apply", "-f", str(path), "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _counts() -> dict[str, int]:
    with unit_of_work(read_only=True) as db:
        return {
            "users": db.scalar(select(func.count()).select_from(User)) or 0,
            "roles": db.scalar(select(func.count()).select_from(Role)) or 0,
            "clients": db.scalar(select(func.count()).select_from(OAuth2Client)) or 0,
            "audit": db.scalar(select(func.count()).select_from(AuditEntry)) or 0,
            "policy_version": policies.head_version(db),
        }


def test_apply_creates_then_changes_nothing(keyed_settings: Settings, tmp_path: Path) -> None:
    path = _write(tmp_path, DOCUMENT)
    planned = _apply(path, "--dry-run")
    assert planned["dry_run"] is True and planned["secrets"] == {}
    assert _counts()["users"] == 0  # the dry run wrote nothing

    first = _apply(path)
    assert first["created"] == planned["created"]
    assert "user:alice@shop.example" in first["created"]
    assert "client:back-office" in first["created"] and "policy:rampart" in first["created"]
    assert first["updated"] == [] and first["unchanged"] == []
    # Secrets only for the confidential clients; the public one has none.
    assert set(first["secrets"]) == {"back-office", "order-sync"}
    assert all(s.startswith("rps_") for s in first["secrets"].values())
    assert first["passwords"] == {}  # no password unless --generate-passwords

    with unit_of_work(read_only=True) as db:
        users = {u.email: u for u in db.scalars(select(User)).all()}
        assert users["gone@shop.example"].status == "disabled"
        assert users["alice@shop.example"].password_hash is None
        assert users["alice@shop.example"].email_verified is True
        assert "p, role:support, rampart, users, read|list, allow, mfa" in (
            policies.snapshot(db).lines
        )
    after_first = _counts()

    second = runner.invoke(app, ["apply", "-f", str(path), "--json"])
    assert second.exit_code == 0, second.output
    body = json.loads(second.stdout)
    assert body["created"] == [] and body["updated"] == []
    assert sorted(body["unchanged"]) == sorted(first["created"])
    assert body["secrets"] == {}
    assert not any(secret in second.stdout for secret in first["secrets"].values())
    assert _counts() == after_first  # not even an audit entry

    human = runner.invoke(app, ["apply", "-f", str(path)])
    assert human.exit_code == 0 and "client_secret" not in human.stdout
    assert "rps_" not in human.stdout


def test_human_output_prints_each_secret_once_with_a_warning(
    keyed_settings: Settings, tmp_path: Path
) -> None:
    path = _write(tmp_path, DOCUMENT)
    result = runner.invoke(app, ["apply", "-f", str(path), "--generate-passwords"])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("client_secret: rps_") == 2
    # Passwords for the two new active users, none for the disabled one.
    assert result.stdout.count(" password: ") == 2
    assert "gone@shop.example password" not in result.stdout
    assert "not shown again" in result.stdout
    with unit_of_work(read_only=True) as db:
        carol = db.scalars(select(User).where(User.email == "carol@shop.example")).one()
        assert carol.password_hash is not None


def test_apply_updates_a_client_redirect_uris(keyed_settings: Settings, tmp_path: Path) -> None:
    _apply(_write(tmp_path, DOCUMENT))
    changed = DOCUMENT.replace(
        "redirect_uris: [https://admin.shop.example/callback]",
        "redirect_uris: [https://admin.shop.example/callback, https://admin.shop.example/cb2]",
    )
    planned = _apply(_write(tmp_path, changed, "changed.yaml"), "--dry-run")
    assert planned["updated"] == ["client:back-office"]
    result = _apply(_write(tmp_path, changed, "changed.yaml"))
    assert result["updated"] == ["client:back-office"] and result["created"] == []
    assert result["secrets"] == {}  # an update keeps the existing secret
    with unit_of_work(read_only=True) as db:
        row = db.scalars(select(OAuth2Client).where(OAuth2Client.name == "back-office")).one()
        assert row.redirect_uris == [
            "https://admin.shop.example/callback",
            "https://admin.shop.example/cb2",
        ]


@pytest.mark.parametrize(
    ("mutation", "path_in_error"),
    [
        (("scopes: [orders:read]", "scopes: [orders:read]\n    colour: blue"), "clients[1].colour"),
        (
            ("[https://shop.example/callback]", "[http://shop.example/callback]"),
            "clients[2].redirect_uris",
        ),
        (("email: carol@shop.example", "email: carol-at-shop"), "users[1].email"),
        (("    status: disabled", "    status: gone"), "users[2].status"),
        (("    status: disabled", "    password: hunter2hunter2"), "users[2].password"),
        (("- p, role:support", "- q, role:support"), "policies"),
    ],
)
def test_invalid_document_is_refused_before_any_write(
    keyed_settings: Settings,
    tmp_path: Path,
    mutation: tuple[str, str],
    path_in_error: str,
) -> None:
    old, new = mutation
    assert old in DOCUMENT
    path = _write(tmp_path, DOCUMENT.replace(old, new, 1))
    before = _counts()
    result = runner.invoke(app, ["apply", "-f", str(path), "--json"])
    assert result.exit_code != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert path_in_error in lines[0]
    assert "hunter2" not in result.stderr
    assert _counts() == before


def test_duplicate_names_are_refused(keyed_settings: Settings, tmp_path: Path) -> None:
    doubled = DOCUMENT.replace("  - email: gone@shop.example", "  - email: ALICE@shop.example")
    result = runner.invoke(app, ["apply", "-f", str(_write(tmp_path, doubled))])
    assert result.exit_code != 0
    assert "users: declared more than once: alice@shop.example" in result.stderr


def test_a_refusal_midway_rolls_back_everything(keyed_settings: Settings, tmp_path: Path) -> None:
    # Another client already holds the client_id the document asks for: refused only in the
    # database, after the roles, users and first clients were written in the same transaction.
    with unit_of_work() as db:
        oauth2.apply_client(db, ClientSpec(name="legacy", client_id="shop-storefront"))
    before = _counts()
    taken = DOCUMENT.replace(
        "  - name: storefront\n", "  - name: storefront\n    client_id: shop-storefront\n"
    )
    result = runner.invoke(app, ["apply", "-f", str(_write(tmp_path, taken)), "--json"])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: clients[2] (storefront): client_id shop-storefront is taken by another client"
    )
    assert "rps_" not in result.output  # the secrets generated before the failure are lost
    assert _counts() == before  # no user, role, client, policy version or audit entry kept


def test_unknown_role_midway_rolls_back_the_users_before_it(
    keyed_settings: Settings, tmp_path: Path
) -> None:
    unknown = DOCUMENT.replace("roles: [support, staff]", "roles: [cashier]")
    before = _counts()
    result = runner.invoke(app, ["apply", "-f", str(_write(tmp_path, unknown))])
    assert result.exit_code == 1
    assert "users[1] (carol@shop.example): unknown role 'cashier'" in result.stderr
    assert _counts() == before
