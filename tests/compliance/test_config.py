"""The compliance settings are read through the one Settings class, like every other."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance.config import ComplianceConfig
from core.settings import load_settings


def test_compliance_config_reads_the_settings_class(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RAMPART_COMPLIANCE_LIBRARY", str(tmp_path))
    monkeypatch.setenv("RAMPART_COMPLIANCE_WEBHOOK_URL", "https://hooks.example/rampart")
    monkeypatch.setenv("RAMPART_COMPLIANCE_WEBHOOK_SECRET", "webhook-key-not-shown")
    settings = load_settings()
    config = ComplianceConfig.from_env(settings)
    assert config.library_dir == tmp_path
    assert config.webhook_url == "https://hooks.example/rampart"
    assert config.webhook_secret is not None
    assert config.webhook_secret.get_secret_value() == "webhook-key-not-shown"
    assert "webhook-key-not-shown" not in repr(settings) + repr(config)


def test_an_empty_compliance_variable_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LIBRARY", "WEBHOOK_URL", "WEBHOOK_SECRET"):
        monkeypatch.setenv(f"RAMPART_COMPLIANCE_{name}", "")
    config = ComplianceConfig.from_env(load_settings())
    assert config == ComplianceConfig()
