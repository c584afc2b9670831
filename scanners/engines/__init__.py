"""Scan engines: the built-in passive engine, wapiti (active, a subprocess) and ZAP (a daemon
driven through its API), all through :class:`scanners.engines.base.Engine`."""

from __future__ import annotations

from scanners.engines.base import ENGINE_NAMES, Engine
from scanners.exceptions import TargetInvalid


def get_engine(name: str) -> Engine:
    """The engine called ``name``; an unknown name is a clear error."""
    if name == "builtin":
        from scanners.engines.builtin.engine import BuiltinEngine

        return BuiltinEngine()
    if name == "wapiti":
        from scanners.engines.wapiti import WapitiEngine

        return WapitiEngine()
    if name == "zap":
        from scanners.engines.zap import ZapEngine

        return ZapEngine()
    raise TargetInvalid(f"unknown engine {name!r}; engines: {', '.join(ENGINE_NAMES)}")
