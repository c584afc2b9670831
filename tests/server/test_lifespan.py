"""Lifespan hooks: started in order, stopped in reverse, cleaned up when a later start fails;
shutdown stops the threads the app started."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from core.audit.service import prepare_event
from core.audit.writer import get_audit_writer
from core.errors import DatabaseUnavailable
from core.settings import Settings
from server.app import create_app
from server.lifespan import LifespanHook


def _recording_hook(name: str, calls: list[str], *, fail_start: bool = False) -> LifespanHook:
    def start(_settings: Settings) -> None:
        calls.append(f"start {name}")
        if fail_start:
            raise RuntimeError(f"{name} cannot start")

    async def stop(_settings: Settings) -> None:  # async hooks are awaited
        calls.append(f"stop {name}")

    return LifespanHook(name, start=start, stop=stop)


def test_hooks_start_in_order_and_stop_in_reverse(http_settings: Settings) -> None:
    calls: list[str] = []
    hooks = [_recording_hook("scheduler", calls), _recording_hook("cache", calls)]
    with TestClient(create_app(http_settings, extra_hooks=hooks)) as client:
        assert calls == ["start scheduler", "start cache"]
        assert client.get("/healthz").status_code == 200
    assert calls == ["start scheduler", "start cache", "stop cache", "stop scheduler"]


def test_a_failed_start_stops_the_hooks_already_started(http_settings: Settings) -> None:
    calls: list[str] = []
    hooks = [_recording_hook("first", calls), _recording_hook("second", calls, fail_start=True)]
    with pytest.raises(RuntimeError, match="second cannot start"):  # noqa: SIM117
        with TestClient(create_app(http_settings, extra_hooks=hooks)):
            pass
    assert calls == ["start first", "start second", "stop first"]


def test_shutdown_closes_the_audit_writer_its_requests_started(http_settings: Settings) -> None:
    with TestClient(create_app(http_settings)):
        writer = get_audit_writer()  # what a request's first group-committed event does
    with pytest.raises(DatabaseUnavailable, match="closed"):
        writer.submit(prepare_event(event_type="test.after_shutdown"))
