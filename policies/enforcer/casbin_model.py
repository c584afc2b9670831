"""The model file and pycasbin's ``Enforcer`` on it: the reference the indexed enforcer equals."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import casbin
from casbin.persist.adapter import Adapter, load_policy_line

from policies.enforcer.conditions import action_matches, condition_holds

MODEL_PATH = Path(__file__).resolve().parent.parent / "model.conf"


class PolicyLinesAdapter(Adapter):  # type: ignore[misc]
    """Feeds policy lines to pycasbin the way its file adapter would (read-only)."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = list(lines)

    def load_policy(self, model: Any) -> None:
        for line in self._lines:
            load_policy_line(line.strip(), model)


def new_casbin_enforcer(lines: Iterable[str]) -> Any:
    """pycasbin's ``Enforcer`` on policies/model.conf with Rampart's matcher functions."""
    enforcer = casbin.Enforcer(str(MODEL_PATH), PolicyLinesAdapter(lines))
    register_matcher_functions(enforcer)
    return enforcer


def register_matcher_functions(enforcer: Any) -> None:
    enforcer.add_function("actionMatch", action_matches)
    enforcer.add_function("conditionHolds", condition_holds)
