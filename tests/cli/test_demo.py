"""`rampart demo seed`: what it creates through the services, that a rerun changes nothing, and a
bad document as one line on stderr with nothing written. These seed the shop alone
(`--no-evidence`); the check run, the demo history and the logins are in test_demo_evidence.py."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import uuid4

from sqlalchemy import func, select
from typer.testing import CliRunner

from cli.main import app
from core.database import unit_of_work
from core.settings import Settings
from iam.accounts.models import User
from iam.accounts.service import get_user_by_email
from server.registry import import_all_models
from vault.models import VaultToken

import_all_models()  # the PostgreSQL fixture empties every table the metadata knows
runner = CliRunner()


def test_seed_creates_the_shop_then_changes_nothing(settings: Settings) -> None:
    first = runner.invoke(app, ["demo", "seed", "--no-evidence", "--json"])
    assert first.exit_code == 0, first.stderr
    created = json.loads(first.stdout)
    assert created["changed"] is True
    assert created["counts"] == {"users": 11, "clients": 4, "cards": 3, "weaknesses": 2}
    assert "4111111111111111" not in first.stdout + first.stderr
    with unit_of_work(read_only=True) as db:
        tokens = db.scalar(select(func.count()).select_from(VaultToken))
        inactive = get_user_by_email(db, "farid.haddad@demo-shop.example")
        admin = get_user_by_email(db, "david.okafor@demo-shop.example")
        users = db.scalar(select(func.count()).select_from(User))
        assert inactive is not None and inactive.last_login_at is not None
        assert admin is not None and admin.last_login_at is not None
        assert inactive.last_login_at < admin.last_login_at
    assert tokens == 3

    second = runner.invoke(app, ["demo", "seed", "--no-evidence"])
    assert second.exit_code == 0, second.stderr
    assert second.stdout.splitlines() == [
        "demo shop already seeded: nothing changed",
        "personalised 1 customers, skipped 2 without consent; segmented 2, skipped 1",
        "demo logins (chloe.nguyen@demo-shop.example, compliance officer; "
        "grace.kim@demo-shop.example, auditor): passwords and TOTP secrets in "
        f"{settings.data_dir / 'demo-logins.json'} (mode 0600)",
    ]
    with unit_of_work(read_only=True) as db:
        assert db.scalar(select(func.count()).select_from(VaultToken)) == tokens
        assert db.scalar(select(func.count()).select_from(User)) == users


def test_a_bad_document_is_one_line_and_writes_nothing(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "shop.yaml"
    bad.write_text("version: 1\nusers:\n  - email: not-an-email\n", encoding="utf-8")
    result = runner.invoke(app, ["demo", "seed", "--no-evidence", "--file", str(bad)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    with unit_of_work(read_only=True) as db:
        assert db.scalar(select(func.count()).select_from(VaultToken)) == 0


def _subject(email: str) -> str:
    with unit_of_work(read_only=True) as db:
        user = get_user_by_email(db, email)
        assert user is not None
        return str(user.id)


def test_only_consenting_customers_are_personalised(settings: Settings) -> None:
    from compliance.gdpr import consent
    from compliance.gdpr.connectors.base import ConnectorRequest, SubjectRef
    from compliance.gdpr.connectors.iam import connector as iam_connector

    first = runner.invoke(app, ["demo", "seed", "--no-evidence", "--json"])
    assert first.exit_code == 0, first.stderr
    result = json.loads(first.stdout)["consent"]
    jean = _subject("jean.dupont@customers.demo-shop.example")
    maria = _subject("maria.rossi@customers.demo-shop.example")  # granted, then withdrew
    li = _subject("li.wei@customers.demo-shop.example")  # never decided
    assert result["personalised_subjects"] == [jean]
    assert (
        maria not in result["personalised_subjects"] and li not in result["personalised_subjects"]
    )
    assert result["personalised"] == 1 and result["personalisation_skipped"] == 2
    # Maria withdrew personalisation only: her segmentation consent still stands.
    assert sorted(result["segmented_subjects"]) == sorted([jean, maria])
    with unit_of_work(read_only=True) as db:
        history = consent.history_of(db, maria)
        assert [(r.purpose, r.granted) for r in history][-1] == ("personalize", False)

    # Jean obtains restriction (Art. 18): the next run skips him although he consented.
    with unit_of_work() as db:
        request = ConnectorRequest(uuid4(), "restriction", SubjectRef(jean))
        assert iam_connector.fulfil(db, request).status == "done"
    again = runner.invoke(app, ["demo", "seed", "--no-evidence", "--json"])
    assert again.exit_code == 0, again.stderr
    rerun = json.loads(again.stdout)["consent"]
    assert rerun["personalised_subjects"] == [] and rerun["personalisation_skipped"] == 3
    assert rerun["segmented_subjects"] == [maria]


def test_seed_after_init_replaces_the_default_notices(settings: Settings) -> None:
    from compliance.gdpr import consent

    with unit_of_work() as db:  # what `rampart init` leaves
        consent.seed_default_purposes(db, actor="system:init")
    for _ in range(2):
        result = runner.invoke(app, ["demo", "seed", "--no-evidence", "--json"])
        assert result.exit_code == 0, result.stderr
    with unit_of_work(read_only=True) as db:
        purposes = {p.key: p for p in consent.consent_purposes(db)}
    assert purposes["personalize"].name == "Personalised recommendations"
    assert purposes["personalize"].notice_version == "2"  # bumped once, not on the rerun
