"""`rampart demo seed` beyond the shop: the compliance officer's and auditor's logins (password and
TOTP in a 0600 file, nowhere else; all or nothing with the shop), the auditor's engagement, the
real check run against a live server the seed starts for it, and the labelled demo history:
signed, each record in the ledger at the ledger's real time, verifying like any evidence; a
rerun changes nothing."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli.main import app
from compliance.dashboard.models import AuditorEngagement
from compliance.models import EvidenceRecord
from compliance.verification import verify_evidence
from core.audit.models import AuditEntry
from core.clock import utcnow
from core.database import unit_of_work
from core.errors import ValidationFailed
from core.kms.provider import get_key_provider
from core.settings import Settings, get_settings
from iam.accounts.passwords import verify_password
from iam.accounts.service import get_user_by_email
from iam.mfa.totp import verify_totp
from server.registry import import_all_models
from tests.interop.conftest import free_port

import_all_models()
runner = CliRunner()
OFFICER = "chloe.nguyen@demo-shop.example"
AUDITOR = "grace.kim@demo-shop.example"


def _logins(settings: Settings) -> dict[str, dict[str, Any]]:
    path = settings.data_dir / "demo-logins.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return {login["email"]: login for login in json.loads(path.read_text())["logins"]}


def test_the_logins_work_are_written_once_and_only_to_the_file(settings: Settings) -> None:
    first = runner.invoke(app, ["demo", "seed", "--no-evidence", "--json"])
    assert first.exit_code == 0, first.stderr
    logins = _logins(settings)
    assert sorted(logins) == [OFFICER, AUDITOR]  # c before g
    assert logins[OFFICER]["role"] == "compliance_officer"
    for login in logins.values():
        assert login["password"] not in first.stdout + first.stderr
        assert login["totp_secret"] not in first.stdout + first.stderr
        assert login["otpauth_uri"].startswith("otpauth://totp/")
    assert json.loads(first.stdout)["logins"]["file"] == str(settings.data_dir / "demo-logins.json")
    with unit_of_work() as db:
        officer = get_user_by_email(db, OFFICER)
        assert officer is not None and officer.password_hash is not None
        assert verify_password(officer.password_hash, logins[OFFICER]["password"])
        assert verify_totp(db, officer.id, pyotp.TOTP(logins[OFFICER]["totp_secret"]).now())
        assert all(role.requires_mfa for role in officer.role_rows if role.name != "staff")
        auditor = get_user_by_email(db, AUDITOR)
        assert auditor is not None
        (engagement,) = db.scalars(select(AuditorEngagement)).all()
        assert engagement.auditor == str(auditor.id)
        assert engagement.framework_ids == ["gdpr", "pci-dss-4.0.1"]
        assert engagement.period_from == utcnow().date() - timedelta(days=90)
        ledger = " ".join(e.details for e in db.scalars(select(AuditEntry)))
    for login in logins.values():
        assert login["password"] not in ledger and login["totp_secret"] not in ledger
    assert not list(settings.data_dir.glob(".demo-logins*"))  # nothing staged left behind

    again = runner.invoke(app, ["demo", "seed", "--no-evidence", "--json"])
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["changed"] is False
    assert _logins(settings) == logins  # the same logins: none replaced


def test_demo_code_gives_the_current_code_of_a_demo_login(settings: Settings) -> None:
    missing = runner.invoke(app, ["demo", "code"])
    assert missing.exit_code == 1 and "run `rampart demo seed` first" in missing.stderr
    assert runner.invoke(app, ["demo", "seed", "--no-evidence", "--json"]).exit_code == 0
    shown = runner.invoke(app, ["demo", "code", AUDITOR, "--json"])
    assert shown.exit_code == 0, shown.stderr
    answer = json.loads(shown.stdout)
    assert answer["email"] == AUDITOR and 0 < answer["valid_for_seconds"] <= 30
    with unit_of_work() as db:
        auditor = get_user_by_email(db, AUDITOR)
        assert auditor is not None
        assert verify_totp(db, auditor.id, answer["code"])
        assert not verify_totp(db, auditor.id, answer["code"])  # once only
    unknown = runner.invoke(app, ["demo", "code", "alice.martin@demo-shop.example"])
    assert unknown.exit_code == 1 and "is not a demo login" in unknown.stderr


def test_a_chosen_password_is_used_and_not_written(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = "demo shop 2026 horse"
    monkeypatch.setenv("RAMPART_DEMO_PASSWORD", chosen)
    get_settings.cache_clear()
    result = runner.invoke(app, ["demo", "seed", "--no-evidence"])
    assert result.exit_code == 0, result.stderr
    text = (settings.data_dir / "demo-logins.json").read_text()
    assert chosen not in text + result.stdout
    logins = _logins(settings)
    assert {login["password_from"] for login in logins.values()} == {"RAMPART_DEMO_PASSWORD"}
    with unit_of_work(read_only=True) as db:
        auditor = get_user_by_email(db, AUDITOR)
        assert auditor is not None and auditor.password_hash is not None
        assert verify_password(auditor.password_hash, chosen)


def test_a_failed_seed_leaves_no_login_and_no_file(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A failure late in the shop's transaction (after the logins were given): a fault injected
    # into the engagement step, which runs last.
    def refuse(*args: object) -> object:
        raise ValidationFailed("injected failure")

    monkeypatch.setattr("cli.demo_logins.open_auditor_engagement", refuse)
    result = runner.invoke(app, ["demo", "seed", "--no-evidence", "--json"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: injected failure"
    assert list(settings.data_dir.glob("*demo-logins*")) == []
    with unit_of_work(read_only=True) as db:
        assert get_user_by_email(db, OFFICER) is None  # the whole shop rolled back


@pytest.fixture
def served_at_a_free_port(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The issuer on a free loopback port: nothing answers there until the seed starts its
    server for the checks."""
    issuer = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("RAMPART_ISSUER", issuer)
    monkeypatch.setenv("RAMPART_LOG_LEVEL", "WARNING")
    get_settings.cache_clear()
    yield issuer
    get_settings.cache_clear()


@pytest.mark.slow
def test_checks_run_now_then_a_labelled_signed_history(
    settings: Settings, served_at_a_free_port: str
) -> None:
    started = utcnow()
    first = runner.invoke(app, ["demo", "seed", "--json"])
    assert first.exit_code == 0, first.stderr
    evidence = json.loads(first.stdout)["evidence"]
    assert evidence["server"] == "started"
    checks = evidence["checks_run"]
    assert checks >= 40 and set(evidence["statuses"]) <= {"pass", "fail"}, evidence
    assert evidence["statuses"]["fail"] >= 2  # the planted weaknesses at least
    assert evidence["history_records"] == 90 * checks

    with unit_of_work(read_only=True) as db:
        history = list(
            db.scalars(select(EvidenceRecord).where(EvidenceRecord.collector == "demo-history"))
        )
        real = list(
            db.scalars(select(EvidenceRecord).where(EvidenceRecord.collector != "demo-history"))
        )
        assert len(history) == evidence["history_records"] and len(real) == checks
        assert all(
            r.detail.startswith("demo history written by `rampart demo seed`") for r in history
        )
        assert max(r.finished_at for r in history) < min(r.started_at for r in real)
        days = {r.finished_at.date() for r in history}
        assert len(days) == 90 and min(days) == started.date() - timedelta(days=90)
        # The story: fixed in the past (8.2.8), failing now (8.5.1's weakness appears late).
        by_check: dict[str, list[EvidenceRecord]] = {}
        for record in sorted(history, key=lambda r: r.finished_at):
            by_check.setdefault(record.check_id, []).append(record)
        idle = [r.status for r in by_check["iam.session_idle_timeout"]]
        assert idle[0] == "fail" and idle[-1] == "pass"
        mfa = [r.status for r in by_check["iam.admins_enrolled_mfa"]]
        assert mfa[0] == "pass" and mfa[-1] == "fail"
        assert {r.status for r in by_check["iam.inactive_accounts"]} == {"fail"}
        # Each in the ledger, appended now: the ledger's own time is never back-dated.
        entries = {
            e.seq: e
            for e in db.scalars(
                select(AuditEntry).where(AuditEntry.seq.in_([r.audit_seq for r in history[:50]]))
            )
        }
        assert all(entries[r.audit_seq].occurred_at >= started for r in history[:50])
        summary = db.scalars(
            select(AuditEntry).where(AuditEntry.event_type == "demo.history_recorded")
        ).one()
        assert json.loads(summary.details)["records"] == len(history)
        report = verify_evidence(db, [get_key_provider().public_signing_key()])
    assert report.ok, report.problems[:5]
    assert report.checked == len(history) + checks

    again = runner.invoke(app, ["demo", "seed", "--json"])
    assert again.exit_code == 0, again.stderr
    rerun = json.loads(again.stdout)
    assert rerun["changed"] is False and rerun["evidence"] is None
    assert rerun["evidence_skipped"] == "recorded"
    with unit_of_work(read_only=True) as db:
        assert db.scalar(select(func.count()).select_from(EvidenceRecord)) == report.checked


def test_without_a_server_to_probe_the_seed_says_so(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # An issuer on another machine (a proxy's URL) cannot be served from here.
    monkeypatch.setenv("RAMPART_ISSUER", "https://rampart.invalid")
    get_settings.cache_clear()
    result = runner.invoke(app, ["demo", "seed", "--json"])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: the checks probe the live server at https://rampart.invalid, which does not "
        "answer: start `rampart serve` and seed again (or seed with --no-evidence)"
    )
    with unit_of_work(read_only=True) as db:  # the shop itself is seeded and kept
        assert get_user_by_email(db, OFFICER) is not None
        assert db.scalar(select(func.count()).select_from(EvidenceRecord)) == 0
