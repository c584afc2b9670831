"""Scan engines: the built-in passive engine now; wapiti (active) and ZAP plug in beside it
through :class:`scanners.engines.base.Engine`."""

from __future__ import annotations

from scanners.engines.base import ENGINE_NAMES, Engine
from scanners.exceptions import TargetInvalid


def get_engine(name: str) -> Engine:
    """The engine called ``name``; the ones not built yet are a clear error."""
    if name == "builtin":
        from scanners.engines.builtin.engine import BuiltinEngine

        return BuiltinEngine()
    if name in ENGINE_NAMES:
        raise TargetInvalid(f"the {name} engine is not available yet; use --engine builtin")
    raise TargetInvalid(f"unknown engine {name!r}; engines: {', '.join(ENGINE_NAMES)}")
