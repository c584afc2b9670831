"""What counts as secret: card numbers (Luhn, 13-19 digits, grouped or not) and secret names."""

from __future__ import annotations

import hashlib
import re
import uuid

from hypothesis import given
from hypothesis import strategies as st

from core.ids import uuid7
from core.sensitive import (
    MASK,
    contains_card_number,
    find_secrets,
    luhn_sum,
    luhn_valid,
    mask_card_numbers,
    redact,
)

TEST_PANS = ["4111111111111111", "5555555555554444", "378282246310005", "6011111111111117"]


def test_known_test_card_numbers_are_found_in_every_spelling() -> None:
    for pan in TEST_PANS:
        assert contains_card_number(pan)
        assert contains_card_number(f"card {pan[:4]} {pan[4:8]} {pan[8:12]} {pan[12:]} end")
        assert contains_card_number("-".join(pan[i : i + 4] for i in range(0, len(pan), 4)))


def test_luhn_invalid_and_wrong_lengths_are_not_card_numbers() -> None:
    assert not contains_card_number("4111111111111112")  # Luhn fails
    assert not contains_card_number("411111111111")  # 12 digits
    assert not contains_card_number("41111111111111111111")  # 20 digits, part of a longer run


def test_uuids_are_never_taken_for_card_numbers() -> None:
    # ~0.1% of UUIDs hold a Luhn-valid grouped run; 20k samples make a miss near-certain.
    for _ in range(10_000):
        for value in (str(uuid7()), str(uuid.uuid4())):
            assert not contains_card_number(value), value
            assert find_secrets({"resource": f"data_key:{value}"}) == []


def test_digest_fields_are_never_taken_for_card_numbers() -> None:
    # About 1% of hex digests hold a Luhn-valid run of 13+ digits: the audit ledger once refused
    # an evidence record for its "sha256". 3k samples of each length hold dozens of such runs.
    runs_a_plain_scan_flags = 0
    for index in range(3_000):
        data = index.to_bytes(4, "big")
        for name, digest in (
            ("sha1", hashlib.sha1(data, usedforsecurity=False).hexdigest()),
            ("sha256", hashlib.sha256(data).hexdigest()),
            ("digest", hashlib.sha512(data).hexdigest()),
            ("key_fingerprint", hashlib.sha256(data + b"k").hexdigest()),
        ):
            runs = re.findall(r"(?<!\d)\d{13,19}(?!\d)", digest)
            runs_a_plain_scan_flags += any(luhn_valid(run) for run in runs)
            assert find_secrets({"artefacts": [{name: digest}]}) == []
    assert runs_a_plain_scan_flags > 10


def test_only_a_whole_hex_value_under_a_digest_name_is_spared() -> None:
    card = "4111111111111111"
    assert find_secrets({"sha256": card}) == ["$.sha256"]  # not hex of a digest's length
    assert find_secrets({"sha256": card + "a" * 48, "x": "y"}) == []
    assert find_secrets({"note": card + "a" * 48}) == []  # one 64-hex token: an id anywhere
    assert find_secrets({"note": f"{card}-" + "a" * 48}) == ["$.note"]  # a card beside a digest
    assert find_secrets({"sha256": f"{card} " + "a" * 47}) == ["$.sha256"]


def test_masking_keeps_the_rest_of_the_text() -> None:
    text = "paid with 4111 1111 1111 1111 by order 42"
    assert mask_card_numbers(text) == f"paid with {MASK} by order 42"


def test_find_secrets_names_paths_never_values() -> None:
    found = find_secrets({"user": {"password": "hunter2"}, "notes": ["ok", 4111111111111111]})
    assert found == ["$.user.password", "$.notes[1]"]
    assert all("hunter2" not in p and "4111" not in p for p in found)


def test_redact_masks_secret_fields_and_card_numbers() -> None:
    assert redact({"token": "abc", "note": "4111111111111111", "n": 3}) == {
        "token": MASK,
        "note": MASK,
        "n": 3,
    }


@given(st.text(alphabet="0123456789", min_size=13, max_size=19))
def test_contains_card_number_agrees_with_luhn(digits: str) -> None:
    assert contains_card_number(digits) == luhn_valid(digits)


def _luhn_by_definition(digits: str) -> int:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total


@given(st.text(alphabet="0123456789", max_size=40))
def test_luhn_sum_follows_the_definition(digits: str) -> None:
    assert luhn_sum(digits) == _luhn_by_definition(digits)
    assert luhn_valid(digits) == (_luhn_by_definition(digits) % 10 == 0)


def test_hex_digests_and_uuids_are_ids_not_card_numbers() -> None:
    # This SHA-256 holds a Luhn-valid 16-digit run (4111111111111111) inside its hex.
    digest = "ab" + "4111111111111111" + "c" * 46
    assert len(digest) == 64
    assert not contains_card_number(f'{{"fingerprint": "{digest}"}}')
    assert mask_card_numbers(f"seen {digest}") == f"seen {digest}"
    # ... while a card number beside words, or glued to a short hex-looking word, is still one.
    assert contains_card_number("card4111111111111111 charged")
    assert mask_card_numbers("id=ab4111111111111111") == f"id=ab{MASK}"
