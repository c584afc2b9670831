"""Identity reads on the real database: each passes on a sound installation and fails once the
setting or the state it reads is weakened."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.clock import utcnow
from core.database import unit_of_work
from iam.accounts import password_rules
from iam.accounts.service import create_user, ensure_role, get_user_by_email
from iam.oauth2.schemas import ClientSpec
from iam.oauth2.service import apply_client, get_client
from tests.compliance.checks.conftest import ContextFactory, run

PASSWORD = "correct7horse8battery"


def test_password_rules_pass_and_fail_when_the_minimum_length_drops(
    read_context: ContextFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("iam.password_rules", read_context()).status == "pass"
    monkeypatch.setattr(password_rules, "MIN_LENGTH", 6)
    result = run("iam.password_rules", read_context())
    assert result.status == "fail"
    assert result.observed["weak_samples_accepted"] >= 1


def test_lockout_settings_pass_and_fail_with_a_short_lockout(read_context: ContextFactory) -> None:
    assert run("iam.lockout_settings", read_context()).status == "pass"
    assert run("iam.lockout_settings", read_context(lockout_minutes=5)).status == "fail"
    assert run("iam.lockout_settings", read_context(lockout_threshold=20)).status == "fail"


def test_session_idle_timeout_passes_and_fails_above_15_minutes(
    read_context: ContextFactory,
) -> None:
    assert run("iam.session_idle_timeout", read_context()).status == "pass"
    assert run("iam.session_idle_timeout", read_context(session_idle_timeout=1800)).status == "fail"


def test_password_hashing_passes_and_fails_below_owasp_cost(read_context: ContextFactory) -> None:
    assert run("iam.password_hashing", read_context()).status == "pass"
    weak = read_context(password_hash_memory_kib=1024)
    assert run("iam.password_hashing", weak).status == "fail"


def test_mfa_required_roles_pass_and_fail_when_admin_drops_mfa(
    read_context: ContextFactory,
) -> None:
    with unit_of_work() as db:
        ensure_role(db, "admin")
        ensure_role(db, "security_staff")
    assert run("iam.mfa_required_roles", read_context()).status == "pass"
    with unit_of_work() as db:
        ensure_role(db, "security_staff", requires_mfa=False)
    result = run("iam.mfa_required_roles", read_context())
    assert result.status == "fail"
    assert result.observed == {"roles_without_mfa": ["security_staff"]}


def test_admins_enrolled_mfa_passes_until_an_admin_logs_in_without_a_factor(
    read_context: ContextFactory,
) -> None:
    with unit_of_work() as db:
        create_user(db, "alice@shop.example", password=PASSWORD, roles=["admin"])
    assert run("iam.admins_enrolled_mfa", read_context()).status == "pass"
    with unit_of_work() as db:
        user = get_user_by_email(db, "alice@shop.example")
        assert user is not None
        user.last_login_at = utcnow()  # test set-up: the state a login leaves
    result = run("iam.admins_enrolled_mfa", read_context())
    assert result.status == "fail"
    assert result.observed["administrators_without_factor"] == [str(user.id)]


def test_inactive_accounts_pass_and_fail_with_an_account_unused_for_120_days(
    read_context: ContextFactory,
) -> None:
    with unit_of_work() as db:
        create_user(db, "bob@shop.example", password=PASSWORD)
    assert run("iam.inactive_accounts", read_context()).status == "pass"
    with unit_of_work() as db:
        user = get_user_by_email(db, "bob@shop.example")
        assert user is not None
        user.created_at = user.last_login_at = utcnow() - timedelta(days=120)
    result = run("iam.inactive_accounts", read_context())
    assert result.status == "fail"
    assert result.observed["inactive_accounts"] == [str(user.id)]


def test_shared_accounts_pass_and_fail_with_a_generic_mailbox(read_context: ContextFactory) -> None:
    with unit_of_work() as db:
        create_user(db, "carol@shop.example", password=PASSWORD)
    assert run("iam.shared_accounts", read_context()).status == "pass"
    with unit_of_work() as db:
        create_user(db, "shared@shop.example", password=PASSWORD)
    assert run("iam.shared_accounts", read_context()).status == "fail"


def test_service_secret_age_passes_and_fails_after_a_year_without_rotation(
    read_context: ContextFactory,
) -> None:
    with unit_of_work() as db:
        apply_client(db, ClientSpec(name="checkout", client_id="checkout"))
    assert run("iam.service_secret_age", read_context()).status == "pass"
    with unit_of_work() as db:
        client = get_client(db, "checkout")
        assert client is not None
        client.created_at = utcnow() - timedelta(days=400)
        client.secret_rotated_at = None
    result = run("iam.service_secret_age", read_context())
    assert result.status == "fail"
    assert result.observed["clients_with_old_secret"] == ["checkout"]
