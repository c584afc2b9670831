"""Fixtures shared by every test package: real databases, real OpenBao, real Redis."""

pytest_plugins = [
    "tests.fixtures.databases",
    "tests.fixtures.services",
    "tests.fixtures.openbao",
]
