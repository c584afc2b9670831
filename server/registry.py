"""Composition: the domain modules that make up the application (models, routers, jobs)."""

from __future__ import annotations

import importlib

# Every module declaring ORM models; imported so Base.metadata knows every table.
MODEL_MODULES: tuple[str, ...] = ()


def import_all_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
