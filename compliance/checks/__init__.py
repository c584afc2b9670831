"""Automated compliance checks: plain functions registered with :func:`check`, one small module
per area (``compliance/checks/<area>.py``). The engine (``compliance.engine``) runs them with
timeouts and records each result as signed evidence."""

from __future__ import annotations

import importlib
import pkgutil

from compliance.checks.base import REGISTRY, RegisteredCheck


def load_all() -> dict[str, RegisteredCheck]:
    """Import every module of this package once, so each area's checks register themselves."""
    for module in pkgutil.iter_modules(__path__, prefix=f"{__name__}."):
        importlib.import_module(module.name)
    return REGISTRY
