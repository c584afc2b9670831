"""Fixtures of the scanner tests: the weak and the hardened shop, served for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.local_apps import serve_app
from tests.scanners.shops import build_hardened_shop, build_weak_shop


@pytest.fixture(scope="session")
def weak_scan_shop() -> Iterator[str]:
    with serve_app(build_weak_shop()) as url:
        yield url


@pytest.fixture(scope="session")
def hardened_shop() -> Iterator[str]:
    with serve_app(build_hardened_shop()) as url:
        yield url
