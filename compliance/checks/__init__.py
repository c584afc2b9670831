"""Automated compliance checks: plain functions registered with :func:`check`, one small module
per area (``compliance/checks/<area>.py``). The engine (``compliance.engine``) runs them with
timeouts and records each result as signed evidence."""

from __future__ import annotations

import importlib

AREA_MODULES = (
    "audit",
    "authorization",
    "data_discovery",
    "gdpr",
    "iam",
    "kms",
    "login",
    "tls",
    "tokens",
    "vault",
    "web",
)


def import_all_checks() -> None:
    """Import every area module, so each ``@check`` is in ``base.REGISTRY``."""
    for name in AREA_MODULES:
        importlib.import_module(f"{__name__}.{name}")
