"""One JSON object per line for structlog and stdlib logging, masked, with the request id."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core import context
from core.logging import configure_logging, get_logger
from core.settings import Settings
from server.app import create_app
from tests.server.conftest import capture_logs, log_events

PAN = "4111 1111 1111 1111"
PAN_DIGITS = "4111111111111111"


@pytest.fixture
def log_settings(tmp_path: Path) -> Settings:
    """Logging needs no database: one run, not one per backend."""
    return Settings(data_dir=tmp_path, log_json=True, log_level="INFO")


def _assert_clean(text: str) -> None:
    assert PAN not in text
    assert PAN_DIGITS not in text
    assert "hunter2" not in text


def test_structlog_line_masks_card_numbers_and_secret_fields(log_settings: Settings) -> None:
    settings = log_settings
    logs = capture_logs(settings)
    get_logger("rampart.test").info(
        f"charge for card {PAN}", password="hunter2", api_key="k-123", amount=1250
    )
    _assert_clean(logs.getvalue())
    [event] = log_events(logs)
    assert event["event"] == "charge for card [REDACTED]"
    assert event["password"] == "[REDACTED]"
    assert event["api_key"] == "[REDACTED]"
    assert event["amount"] == 1250
    assert event["level"] == "info"
    assert event["logger"] == "rampart.test"
    assert event["timestamp"].endswith("Z")


def test_stdlib_line_masks_message_arguments_and_password_assignments(
    log_settings: Settings,
) -> None:
    settings = log_settings
    logs = capture_logs(settings)
    logging.getLogger("sqlalchemy.engine").warning(
        "login password=hunter2 from %s with card %s", "10.0.0.7", PAN_DIGITS
    )
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1", "GET", "/cb?code=x&token=hunter2", "1.1", 200
    )
    _assert_clean(logs.getvalue())
    first, second = log_events(logs)
    assert first["event"] == "login password=[REDACTED] from 10.0.0.7 with card [REDACTED]"
    assert first["logger"] == "sqlalchemy.engine"
    assert first["level"] == "warning"
    assert second["event"] == '127.0.0.1 - "GET /cb?code=x&token=[REDACTED] HTTP/1.1" 200'


def test_stdlib_extra_fields_and_exceptions_are_masked(log_settings: Settings) -> None:
    settings = log_settings
    logs = capture_logs(settings)
    try:
        raise ValueError(f"bad card {PAN_DIGITS}")
    except ValueError:
        logging.getLogger("hvac").exception("vault call failed", extra={"secret_id": "s3cr3t"})
    _assert_clean(logs.getvalue())
    assert "s3cr3t" not in logs.getvalue()
    [event] = log_events(logs)
    assert event["secret_id"] == "[REDACTED]"
    assert "ValueError: bad card [REDACTED]" in event["exception"]


def test_lines_carry_the_acting_request_id_and_actor(log_settings: Settings) -> None:
    settings = log_settings
    logs = capture_logs(settings)
    token = context.set_current(context.ActingContext(actor="user:42", request_id="req_abc"))
    try:
        get_logger("rampart.test").info("inside")
        logging.getLogger("uvicorn.error").info("stdlib inside")
    finally:
        context.reset(token)
    get_logger("rampart.test").info("outside")
    inside, stdlib_inside, outside = log_events(logs)
    assert (inside["request_id"], inside["actor"]) == ("req_abc", "user:42")
    assert (stdlib_inside["request_id"], stdlib_inside["actor"]) == ("req_abc", "user:42")
    assert "request_id" not in outside
    assert outside["actor"] == "system"


def test_request_log_lines_carry_the_response_request_id(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/test/log")
    def log_something() -> dict[str, bool]:
        get_logger("rampart.test").info("handling", card=PAN)
        return {"ok": True}

    with TestClient(app) as client:
        logs = capture_logs(settings)
        response = client.get("/test/log")
    _assert_clean(logs.getvalue())
    [event] = [e for e in log_events(logs) if e["event"] == "handling"]
    assert event["request_id"] == response.headers["x-request-id"]
    assert event["card"] == "[REDACTED]"


def test_configure_logging_is_idempotent(log_settings: Settings) -> None:
    settings = log_settings
    configure_logging(settings)
    configure_logging(settings)
    logs = capture_logs(settings)
    marked = [h for h in logging.getLogger().handlers if getattr(h, "_rampart_handler", False)]
    assert len(marked) == 1
    get_logger("rampart.test").info("once")
    assert len(log_events(logs)) == 1


def test_uvicorn_loggers_go_through_the_pipeline(log_settings: Settings) -> None:
    settings = log_settings
    access = logging.getLogger("uvicorn.access")
    access.addHandler(logging.StreamHandler(io.StringIO()))  # what uvicorn's own config does
    access.propagate = False
    logs = capture_logs(settings)
    assert access.handlers == []
    assert access.propagate is True
    access.info("GET /healthz 200")
    assert log_events(logs)[0]["logger"] == "uvicorn.access"


def test_console_format_when_json_is_off(log_settings: Settings) -> None:
    console = log_settings.model_copy(update={"log_json": False})
    buffer = io.StringIO()
    configure_logging(console, stream=buffer)
    get_logger("rampart.test").info("readable", password="hunter2")
    line = buffer.getvalue()
    _assert_clean(line)
    assert "readable" in line
    assert "password=[REDACTED]" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)
