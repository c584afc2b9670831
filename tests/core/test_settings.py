"""The settings class and docs/configuration.md must tell the same story."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import settings_doc
from core.settings import (
    InvalidSettings,
    Settings,
    issuer_mismatch,
    load_settings,
    production_problems,
    refuse_insecure_production,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_configuration_doc_matches_settings_class() -> None:
    assert DOC.read_text() == settings_doc.render(), (
        "docs/configuration.md is stale: run `uv run python -m core.settings_doc > "
        "docs/configuration.md`"
    )


def test_every_setting_is_documented() -> None:
    undocumented = [
        n for n, f in Settings.model_fields.items() if not (f.description or "").strip()
    ]
    assert undocumented == []


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAMPART_ISSUER", "https://id.shop.example")
    monkeypatch.setenv("RAMPART_KMS", "vault")
    s = Settings()
    assert s.issuer == "https://id.shop.example"
    assert s.kms == "vault"


def test_secrets_are_not_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAMPART_VAULT_TOKEN", "s.very-secret-token")
    s = Settings()
    assert "very-secret-token" not in repr(s)
    assert "very-secret-token" not in s.model_dump_json()


def test_invalid_value_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAMPART_KMS", "hsm")
    with pytest.raises(ValueError, match="kms"):
        Settings()


def test_default_database_is_sqlite_in_data_dir(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert s.resolved_database_url == f"sqlite:///{tmp_path.resolve()}/rampart.db"


def test_log_level_is_normalized_and_an_unknown_one_refused() -> None:
    assert Settings(log_level="warning").log_level == "WARNING"
    with pytest.raises(InvalidSettings) as refused:
        load_settings(log_level="LOUD")
    assert refused.value.problems == (
        "RAMPART_LOG_LEVEL='LOUD': unknown log level; allowed: DEBUG, INFO, WARNING, ERROR, "
        "CRITICAL",
    )


def test_bad_settings_give_one_line_each_naming_variable_value_and_what_is_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAMPART_KMS", "hsm")
    monkeypatch.setenv("RAMPART_PORT", "0")
    monkeypatch.setenv("RAMPART_LOG_JSON", "perhaps")
    with pytest.raises(InvalidSettings) as refused:
        load_settings()
    assert refused.value.problems == (
        "RAMPART_LOG_JSON='perhaps': input should be a valid boolean, unable to interpret input",
        "RAMPART_KMS='hsm': input should be 'local' or 'vault'",
        "RAMPART_PORT='0': input should be greater than or equal to 1",
    )
    assert str(refused.value) == "\n".join(refused.value.problems)


def test_a_list_setting_says_that_json_is_expected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAMPART_VAULT_DETERMINISTIC_TYPES", "email")
    with pytest.raises(InvalidSettings) as not_json:
        load_settings()
    assert not_json.value.problems == (
        "RAMPART_VAULT_DETERMINISTIC_TYPES='email': not valid JSON "
        '(a JSON list is expected, e.g. ["email"])',
    )
    monkeypatch.setenv("RAMPART_VAULT_DETERMINISTIC_TYPES", '{"email": true}')
    with pytest.raises(InvalidSettings) as not_a_list:
        load_settings()
    assert not_a_list.value.problems == (
        "RAMPART_VAULT_DETERMINISTIC_TYPES='{\"email\": true}': input should be a valid list "
        '(a JSON list is expected, e.g. ["email"])',
    )


def test_a_refused_secret_is_never_echoed() -> None:
    with pytest.raises(InvalidSettings) as refused:
        load_settings(vault_token=31415926535, admin_password=["hunter2-is-secret"])
    text = str(refused.value)
    assert "31415926535" not in text and "hunter2" not in text
    assert refused.value.problems[0].startswith("RAMPART_VAULT_TOKEN=(secret, not shown): ")
    assert refused.value.problems[1].startswith("RAMPART_ADMIN_PASSWORD=(secret, not shown): ")


def test_the_issuer_follows_host_and_port_unless_set() -> None:
    assert Settings().issuer == "http://127.0.0.1:8000"  # the product contract's default
    assert Settings(port=9000).issuer == "http://127.0.0.1:9000"
    assert Settings(host="0.0.0.0", port=9000).issuer == "http://127.0.0.1:9000"  # noqa: S104
    assert Settings(host="10.1.2.3", port=9000).issuer == "http://10.1.2.3:9000"
    assert Settings(host="::1", port=9000).issuer == "http://[::1]:9000"
    assert Settings(issuer="https://id.shop.example", port=9000).issuer == "https://id.shop.example"
    assert issuer_mismatch(Settings(port=9000)) is None


def test_an_issuer_naming_this_server_on_another_port_is_warned_about() -> None:
    warning = issuer_mismatch(Settings(issuer="http://127.0.0.1:8000", port=9000))
    assert warning == (
        "RAMPART_ISSUER=http://127.0.0.1:8000 names port 8000 but the server listens on 9000: "
        "tokens name that issuer and clients reaching :9000 refuse them; set RAMPART_ISSUER to "
        "the URL clients use, or unset it (http://127.0.0.1:9000)"
    )
    assert issuer_mismatch(Settings(issuer="http://localhost:8000", port=8000)) is None
    # A public URL on another host is a proxy in front: nothing to say.
    assert issuer_mismatch(Settings(issuer="https://id.shop.example", port=9000)) is None


def test_production_refuses_each_insecure_default_naming_its_setting(tmp_path: Path) -> None:
    insecure = Settings(env="production", data_dir=tmp_path)
    problems = production_problems(insecure, serving=True)
    assert [line.split(" ")[0].split("=")[0].rstrip(":") for line in problems] == [
        "RAMPART_DATABASE_URL",
        "RAMPART_KMS",
        "RAMPART_ISSUER",
        "RAMPART_SCHEDULER",
    ]
    # A worker hosts no API: where the scheduler runs is the server's setting to state.
    assert len(production_problems(insecure, serving=False)) == 3
    with pytest.raises(InvalidSettings) as refused:
        refuse_insecure_production(insecure, serving=True)
    assert refused.value.problems == tuple(problems)
    # The same settings outside production are the embedded default.
    assert production_problems(Settings(data_dir=tmp_path), serving=True) == []


def test_production_accepts_a_secure_configuration(tmp_path: Path) -> None:
    secure = Settings(
        env="production",
        data_dir=tmp_path,
        database_url="postgresql+psycopg://rampart@db/rampart",
        kms="vault",
        issuer="https://id.shop.example",
        scheduler="off",
    )
    assert production_problems(secure, serving=True) == []
    refuse_insecure_production(secure, serving=True)
