"""Password rules (PCI DSS 8.3.6, 8.3.7): length, letters and digits, not a common or breached
password from the shipped list, not the email's local part, not one of the last four."""

from __future__ import annotations

import functools
import re
import secrets
import string

MIN_LENGTH = 12
MAX_LENGTH = 256  # argon2 takes any length; this bounds the work one request can ask for
HISTORY_DEPTH = 4

_EDGE_JUNK = re.compile(r"^[\d\W_]+|[\d\W_]+$")


@functools.cache
def common_passwords() -> frozenset[str]:
    """zxcvbn's shipped list of the 30 000 most common passwords from public breach corpora
    (imported on first use: ~10 MB a serving process only needs once someone sets a password)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def is_common_password(password: str) -> bool:
    """True for a listed password, or one made of a listed password padded with digits or
    symbols ("password2024!", "123dragon123456"): the first thing cracking rules try."""
    lowered = password.lower()
    listed = common_passwords()
    if lowered in listed:
        return True
    core = _EDGE_JUNK.sub("", lowered)
    return len(core) >= 3 and core in listed


def password_problems(password: str, *, email: str | None = None) -> list[str]:
    """Human-readable reasons the password is refused; empty when it is acceptable.

    The history rule needs the stored hashes and is checked by the service.
    """
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        problems.append(f"Use at most {MAX_LENGTH} characters.")
    if not any(ch.isalpha() for ch in password) or not any(ch.isdigit() for ch in password):
        problems.append("Use both letters and digits.")
    if is_common_password(password):
        problems.append("This password is too common; choose another.")
    if email:
        local_part = email.split("@", 1)[0].lower()
        if len(local_part) >= 3 and local_part in password.lower():
            problems.append("Do not use your email address in your password.")
    return problems


def generate_password(length: int = 24) -> str:
    """A random password that passes every rule (about 140 bits from letters and digits)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if not password_problems(candidate):
            return candidate
