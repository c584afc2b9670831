"""Recognizes values that must never reach logs, errors or the audit ledger: card numbers
(Luhn-valid runs of 13-19 digits, spaces or dashes allowed) and fields named like secrets."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any

# 13-19 digits, optionally grouped by single spaces or dashes (how PANs are typed and logged).
_CARD_CANDIDATE = re.compile(r"(?<![\d])\d(?:[ -]?\d){12,18}(?![\d])")
# Canonical UUIDs can hold Luhn-valid dash-separated digit runs (~0.1% of them), and a hex
# digest of 32+ characters a Luhn-valid run of 13+ digits (~1% of SHA-256s): both are ids, never
# card numbers (a card number is 13-19 digits, so a token of 32+ is never one by itself).
_ID_TOKEN = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|(?<![0-9a-z])[0-9a-f]{32,}(?![0-9a-z])",
    re.IGNORECASE,
)
_SECRET_NAME = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[_-]?key|private[_-]?key|^key$|_key$|credential|"
    r"authorization|cookie|session[_-]?id|pan$|card[_-]?number|cvv|cvc|pin$|otp|totp)",
    re.IGNORECASE,
)
# Fields named as digests hold a hex SHA-1/256/512; about 1% of those hold a Luhn-valid run
# of 13+ digits. Such a field is a hash, never a card number, when its whole value is hex.
_DIGEST_NAME = re.compile(r"(^|_)(digest|sha(1|256|512)|fingerprint|hash)$", re.IGNORECASE)
_HEX_DIGEST = re.compile(r"(?:[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f]{128})")
MASK = "[REDACTED]"


# Luhn doubles every second digit from the right and subtracts 9 above 9: still one digit, so
# a byte table does it and the digits can be summed as bytes (each counts 48 too many).
_LUHN_DOUBLED = bytes.maketrans(b"0123456789", b"0246813579")


def luhn_sum(digits: str) -> int:
    """The Luhn sum of ``digits``; the number passes the check when it is a multiple of 10."""
    if digits.isascii() and digits.isdigit():
        raw = digits.encode()
        odd = len(raw) % 2  # doubled digits start at index 0 when the length is even
        plain, doubled = raw[1 - odd :: 2], raw[odd::2].translate(_LUHN_DOUBLED)
        return sum(plain) + sum(doubled) - 48 * len(raw)
    # Anything else keeps the character-by-character definition (callers pass digits only).
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total


def luhn_valid(digits: str) -> bool:
    return luhn_sum(digits) % 10 == 0


def without_ids(text: str) -> str:
    """``text`` with every canonical UUID and hex digest (32+ hex characters) blanked out,
    keeping positions unchanged."""
    if len(text) < 32:
        return text
    return _ID_TOKEN.sub(lambda m: "u" * len(m.group()), text)


def card_numbers_in(text: str) -> Iterator[re.Match[str]]:
    """Luhn-valid 13-19 digit runs in ``text`` (UUIDs and hex digests are not card numbers)."""
    for match in _CARD_CANDIDATE.finditer(without_ids(text)):
        digits = re.sub(r"[ -]", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            yield match


def contains_card_number(text: str) -> bool:
    # Most texts checked (audit details: counts, ids, names) are shorter than any card number.
    if len(text) < 13:
        return False
    return next(card_numbers_in(text), None) is not None


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    # Cached: the names checked are field names, a small set looked at on every audit entry.
    return _SECRET_NAME.search(name) is not None


def mask_card_numbers(text: str) -> str:
    if not any(ch.isdigit() for ch in text):
        return text
    matches = list(card_numbers_in(text))
    for match in reversed(matches):
        text = text[: match.start()] + MASK + text[match.end() :]
    return text


def find_secrets(value: Any, path: str = "$") -> list[str]:
    """JSON paths in ``value`` holding a card number or keyed like a secret; empty when clean."""
    found: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            name = str(key)
            if is_secret_name(name) and item not in (None, "", [], {}):
                found.append(f"{path}.{key}")
            elif _is_digest(name, item):
                pass
            elif _may_hold_card_number(item):
                found.extend(find_secrets(item, f"{path}.{key}"))
            if contains_card_number(name):
                found.append(f"{path}.{key} (key)")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found.extend(find_secrets(item, f"{path}[{index}]"))
    elif (
        isinstance(value, str | int)
        and not isinstance(value, bool)
        and contains_card_number(str(value))
    ):
        found.append(path)
    return found


def _is_digest(name: str, value: Any) -> bool:
    return (
        isinstance(value, str)
        and _HEX_DIGEST.fullmatch(value) is not None
        and _DIGEST_NAME.search(name) is not None
    )


def _may_hold_card_number(value: Any) -> bool:
    """False for the scalars that cannot hold one (every audit entry has many): skips a call."""
    if isinstance(value, str):
        return len(value) >= 13
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return False
    if isinstance(value, int):
        return abs(value) >= 10**12  # fewer than 13 digits otherwise
    return True


def redact(value: Any) -> Any:
    """A copy of ``value`` with card numbers and secret-named fields masked (for logs)."""
    if isinstance(value, Mapping):
        return {
            key: (MASK if is_secret_name(str(key)) and item not in (None, "") else redact(item))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return mask_card_numbers(value)
    if isinstance(value, int) and not isinstance(value, bool) and contains_card_number(str(value)):
        return MASK
    return value
