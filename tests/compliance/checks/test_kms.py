"""Key-management checks on the real local KMS and data-key registry."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from core.clock import utcnow
from core.database import get_engine, unit_of_work
from core.kms.provider import get_key_provider
from core.kms.service import create_data_key, rewrap_data_keys
from core.settings import Settings
from tests.compliance.checks.conftest import ContextFactory, run


def test_kek_cryptoperiod_passes_when_fresh_and_fails_a_year_on(
    read_context: ContextFactory,
) -> None:
    fresh = run("kms.kek_cryptoperiod", read_context())
    assert fresh.status == "pass", fresh
    later = read_context(now=utcnow() + timedelta(days=400))
    assert run("kms.kek_cryptoperiod", later).status == "fail"


def test_retired_versions_fail_after_rotation_until_rewrapped(read_context: ContextFactory) -> None:
    with unit_of_work() as db:
        create_data_key(db, "test")
    assert run("kms.retired_versions_rewrapped", read_context()).status == "pass"
    get_key_provider().rotate()
    stale = run("kms.retired_versions_rewrapped", read_context())
    assert stale.status == "fail"
    assert stale.observed["data_keys_to_rewrap"] == 1
    with unit_of_work() as db:
        rewrap_data_keys(db)
    assert run("kms.retired_versions_rewrapped", read_context()).status == "pass"


def test_local_key_file_permissions_pass_at_0600_and_fail_when_group_readable(
    read_context: ContextFactory, keyed_settings: Settings
) -> None:
    assert run("kms.local_key_file_permissions", read_context()).status == "pass"
    keyed_settings.resolved_local_key_file.chmod(0o644)
    result = run("kms.local_key_file_permissions", read_context())
    assert result.status == "fail"
    assert result.observed == {"mode": "0o644"}
    vault = run("kms.local_key_file_permissions", read_context(kms="vault"))
    assert vault.status == "not_applicable"


def test_data_keys_wrapped_pass_and_fail_with_a_key_stored_unwrapped(
    read_context: ContextFactory,
) -> None:
    with unit_of_work() as db:
        create_data_key(db, "test")
    assert run("kms.data_keys_wrapped", read_context()).status == "pass"
    with get_engine().begin() as connection:
        connection.execute(text("UPDATE data_keys SET wrapped = NULL"))
    result = run("kms.data_keys_wrapped", read_context())
    assert result.status == "fail"
    assert result.observed["live_without_wrapping"] == 1


def test_provider_probe_passes_on_rampart_and_fails_when_readiness_breaks(
    live_context: ContextFactory, weak_shop: str
) -> None:
    assert run("kms.provider_reachable", live_context()).status == "pass"
    assert run("kms.provider_reachable", live_context(url=weak_shop)).status == "fail"
