"""The settings class and docs/configuration.md must tell the same story."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import settings_doc
from core.settings import Settings

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
