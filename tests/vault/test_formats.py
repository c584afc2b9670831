"""Token formats without a database: Luhn-failing card tokens, kept digits, token-space limits,
checksums, and the shape check that refuses strings no format could have made."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.sensitive import luhn_valid
from vault.exceptions import FormatRefused, TokenMalformed
from vault.formats import (
    BASE36,
    BASE62,
    _encode,
    _encode_digits,
    _luhn_completing_digit,
    check_token_shape,
    check_token_space,
    generate_token,
    parse_format,
)
from vault.types import TYPES, TokenType


def _luhn_complete(body: str) -> str:
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


@given(
    body=st.text(alphabet="0123456789", min_size=12, max_size=18),
    fmt=st.sampled_from(["pan_last4", "pan_first6_last4", "pan_last0"]),
    entropy=st.binary(min_size=32, max_size=32),
)
def test_card_tokens_never_pass_luhn(body: str, fmt: str, entropy: bytes) -> None:
    pan = _luhn_complete(body)
    spec = TYPES[TokenType.PAN]
    token_format = parse_format(spec, fmt)
    try:
        check_token_space(token_format, pan)
    except FormatRefused:
        return
    token = generate_token(spec, token_format, pan, entropy)
    assert len(token) == len(pan) and token.isdigit()
    assert not luhn_valid(token)
    assert token[len(token) - token_format.keep_last :] == pan[len(pan) - token_format.keep_last :]
    assert token[: token_format.keep_first] == pan[: token_format.keep_first]
    check_token_shape(spec, token)


def test_adjusted_digit_is_never_the_luhn_one_and_otherwise_uniform() -> None:
    spec = TYPES[TokenType.PAN]
    fmt = parse_format(spec, "pan_last4")
    tokens = [generate_token(spec, fmt, "4111111111111111", os.urandom(32)) for _ in range(400)]
    for token in tokens:
        completing = [d for d in "0123456789" if luhn_valid(token[:-5] + d + token[-4:])]
        assert len(completing) == 1 and token[-5] != completing[0]
    assert len({token[-5] for token in tokens}) == 10  # which digit is excluded varies


@pytest.mark.parametrize(
    ("pan", "fmt"),
    [("4111111111111111", "pan_first8_last4"), ("4111111111111111", "pan_first9_last4")],
)
def test_small_token_spaces_refused(pan: str, fmt: str) -> None:
    spec = TYPES[TokenType.PAN]
    with pytest.raises(FormatRefused):
        check_token_space(parse_format(spec, fmt), pan)


def test_opaque_checksum_catches_typos() -> None:
    spec = TYPES[TokenType.NAME]
    token = generate_token(spec, parse_format(spec, None), "Ada", os.urandom(32))
    assert token.startswith("tok_nam_") and len(token) == len("tok_nam_") + 23
    check_token_shape(spec, token)
    typo = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    with pytest.raises(TokenMalformed):
        check_token_shape(spec, typo)
    with pytest.raises(TokenMalformed):
        check_token_shape(TYPES[TokenType.EMAIL], token)  # a name token is not an email token


@given(
    pool=st.integers(min_value=0, max_value=2**512),
    length=st.integers(min_value=0, max_value=40),
    alphabet=st.sampled_from([BASE62, BASE36]),
)
def test_encoding_is_base_n_least_significant_digit_first(
    pool: int, length: int, alphabet: str
) -> None:
    expected = "".join(alphabet[pool // len(alphabet) ** i % len(alphabet)] for i in range(length))
    assert _encode(pool, alphabet, length) == expected
    digits = "".join(str(pool // 10**i % 10) for i in range(length))
    assert _encode_digits(pool, length) == digits


@given(
    head=st.text(alphabet="0123456789", max_size=18),
    tail=st.text(alphabet="0123456789", max_size=5),
)
def test_completing_digit_is_the_only_luhn_valid_one(head: str, tail: str) -> None:
    valid = [d for d in range(10) if luhn_valid(f"{head}{d}{tail}")]
    assert valid == [_luhn_completing_digit(head, tail)]


def test_parsed_formats_are_reused_and_refusals_raised_afresh() -> None:
    spec = TYPES[TokenType.PAN]
    assert parse_format(spec, "pan_first6_last4") is parse_format(spec, "pan_first6_last4")
    assert parse_format(spec, None) == parse_format(spec, "pan_last4")
    refusals = []
    for _ in range(2):
        with pytest.raises(FormatRefused) as caught:
            parse_format(spec, "pan_first9_last4")
        refusals.append(caught.value)
    assert refusals[0] is not refusals[1]  # a batch's items never share one error object
    with pytest.raises(FormatRefused, match="does not exist for email tokens"):
        parse_format(TYPES[TokenType.EMAIL], "pan_last4")  # cached for PAN, not for email
