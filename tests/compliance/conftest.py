"""A small fixture control library, test checks registered for one test, and the engine's
dependencies on the test's real database and local KMS key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from compliance.checks import load_all
from compliance.checks.base import REGISTRY, CheckContext, CheckResult, RegisteredCheck
from compliance.controls import ControlLibrary, load_library
from compliance.engine import EngineDeps, default_deps
from core.kms.provider import get_key_provider
from core.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"

Register = Callable[..., RegisteredCheck]


@pytest.fixture
def library() -> ControlLibrary:
    return load_library(FIXTURES / "library")


@pytest.fixture
def deps(settings: Settings) -> EngineDeps:
    get_key_provider().ensure_keys()
    return default_deps()


@pytest.fixture
def register(monkeypatch: pytest.MonkeyPatch) -> Iterator[Register]:
    """Register a check for this test only (the registry is process-wide)."""
    load_all()  # the real modules first, so a later load_all() adds nothing behind our back

    def add(
        check_id: str,
        function: Callable[[CheckContext], CheckResult],
        controls: tuple[str, ...] = (),
        timeout: float = 5.0,
    ) -> RegisteredCheck:
        item = RegisteredCheck(check_id, check_id, controls, "read", timeout, function)
        monkeypatch.setitem(REGISTRY, check_id, item)
        return item

    yield add


@pytest.fixture
def standard_checks(register: Register) -> dict[str, RegisteredCheck]:
    """``tests.passes`` and ``tests.fails``, the checks the fixture library names."""
    return {
        "tests.passes": register(
            "tests.passes",
            lambda ctx: CheckResult.judge(True, {"threshold": 6}, {"max": 10}),
            ("test-fw:1.1", "test-fw:2.1"),
        ),
        "tests.fails": register(
            "tests.fails",
            lambda ctx: CheckResult.judge(False, {"mfa": False}, {"mfa": True}, "no MFA"),
            ("test-fw:1.2",),
        ),
    }
