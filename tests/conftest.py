"""Fixtures shared by every test package: real databases, real OpenBao, real Redis."""

import sys

from _pytest.assertion.rewrite import AssertionRewritingHook

# pytest rewrites the asserts of every module of a plugin's distribution, schemathesis included;
# on CPython 3.11.7 parsing one of its modules for that rewrite can fail with "AST constructor
# recursion depth mismatch" (a CPython bug). Its asserts need no rewriting: leave it alone.
for _finder in sys.meta_path:
    if isinstance(_finder, AssertionRewritingHook):
        _finder._must_rewrite = {
            name for name in _finder._must_rewrite if not name.startswith("schemathesis")
        }

pytest_plugins = [
    "tests.fixtures.databases",
    "tests.fixtures.services",
    "tests.fixtures.openbao",
    "tests.fixtures.threads",
]
