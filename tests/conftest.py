"""Fixtures shared by every test package: real databases, real OpenBao, real Redis."""

import sys
from pathlib import Path

from _pytest.assertion.rewrite import AssertionRewritingHook

# pytest rewrites the asserts of every module of a plugin's distribution, schemathesis included;
# on CPython 3.11.7 parsing one of its modules for that rewrite can fail with "AST constructor
# recursion depth mismatch" (a CPython bug). Its asserts need no rewriting: leave it alone.
for _finder in sys.meta_path:
    if isinstance(_finder, AssertionRewritingHook):
        _finder._must_rewrite = {
            name for name in _finder._must_rewrite if not name.startswith("schemathesis")
        }

# The SDK is its own distribution (sdk/pyproject.toml); tests (and the examples they run) import
# it from the repository.
SDK_DIR = Path(__file__).resolve().parents[1] / "sdk"
if str(SDK_DIR) not in sys.path:
    sys.path.insert(0, str(SDK_DIR))

pytest_plugins = [
    "tests.fixtures.databases",
    "tests.fixtures.services",
    "tests.fixtures.openbao",
    "tests.fixtures.threads",
]
