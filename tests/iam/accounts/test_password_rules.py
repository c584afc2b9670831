"""Password rules: length, letters and digits, common passwords (zxcvbn's shipped list), email."""

from __future__ import annotations

import pytest

from iam.accounts.password_rules import (
    common_passwords,
    generate_password,
    is_common_password,
    password_problems,
)


def test_the_shipped_list_is_zxcvbns_thirty_thousand() -> None:
    listed = common_passwords()
    assert len(listed) == 30000
    assert "password" in listed and "dragon" in listed


@pytest.mark.parametrize(
    "password",
    ["short1", "onlyletterslongenough", "123456789012345", "password1234", "Dragon2024!!!!"],
)
def test_weak_passwords_are_refused(password: str) -> None:
    assert password_problems(password) != []


def test_common_password_padded_with_digits_counts_as_common() -> None:
    assert is_common_password("baseball123456")
    assert not is_common_password("harbour lights 7 ferry")


def test_email_local_part_is_refused() -> None:
    problems = password_problems("jonathan-smith-2024x", email="jonathan-smith@example.com")
    assert any("email" in p for p in problems)


def test_good_password_passes_and_generated_ones_always_pass() -> None:
    assert password_problems("harbour lights 7 ferry", email="alice@example.com") == []
    for _ in range(20):
        assert password_problems(generate_password()) == []
