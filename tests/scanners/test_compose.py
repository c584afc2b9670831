"""deploy/compose.yaml, checked offline (no Docker here): it parses, runs the official ZAP image
in daemon mode with the API key from the environment (never a literal), and points Rampart's
ZAP settings at that service. Structural checks: no compose-spec schema is installable here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from core.settings import Settings

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "compose.yaml"
KEY_FROM_ENV = re.compile(r"^\$\{ZAP_API_KEY:\?[^}]+\}$")


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def test_compose_runs_the_official_zap_image_as_a_daemon_with_the_key_from_env() -> None:
    services = _compose()["services"]
    zap = services["zap"]
    assert zap["image"] == "zaproxy/zap-stable"
    assert KEY_FROM_ENV.match(zap["environment"]["ZAP_API_KEY"])
    command = " ".join(zap["command"])
    assert "zap.sh -daemon" in command and "-port 8090" in command
    assert 'api.key="$$ZAP_API_KEY"' in command  # $$: compose passes a literal $ to the shell
    assert "ports" not in zap  # the API is reachable on the compose network only
    text = COMPOSE.read_text()
    assert "change-me" not in text and "api.key=" not in text.replace('api.key="$$ZAP', "")


def test_rampart_is_configured_for_that_zap_and_the_settings_exist() -> None:
    services = _compose()["services"]
    env = services["rampart"]["environment"]
    assert env["RAMPART_SCAN_ZAP_URL"] == "http://zap:8090"
    assert KEY_FROM_ENV.match(env["RAMPART_SCAN_ZAP_API_KEY"])
    assert "zap" in services["rampart"]["depends_on"]
    assert services["worker"]["environment"] == env  # the worker runs scheduled scans
    fields = Settings.model_fields
    for name in env:
        assert name.removeprefix("RAMPART_").lower() in fields, name


def test_every_service_has_an_image_or_a_build_and_known_keys() -> None:
    allowed = {
        "image", "build", "command", "entrypoint", "environment", "depends_on", "ports",
        "volumes", "healthcheck", "cap_add", "deploy",
    }  # fmt: skip
    data = _compose()
    assert set(data) <= {"services", "volumes"}
    for name, service in data["services"].items():
        assert "image" in service or "build" in service, name
        assert set(service) <= allowed, name
