"""Token formats: opaque ``tok_<prefix>_<random><check>``, format-preserving card numbers that
always fail the Luhn check, emails keeping their domain, phones keeping their country code.

Generators take the randomness as bytes, so random and deterministic tokens share one code path
(deterministic tokens feed an HMAC of the value instead of ``os.urandom``).
"""

from __future__ import annotations

import functools
import re
import string
import zlib
from dataclasses import dataclass
from typing import Literal

from core.sensitive import luhn_sum, luhn_valid
from vault.exceptions import FormatRefused, TokenMalformed
from vault.types import TokenType, TypeSpec, country_calling_code

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
BASE36 = string.digits + string.ascii_lowercase
OPAQUE_RANDOM_CHARS = 22  # 62**22 ~ 2**131
EMAIL_RANDOM_CHARS = 20  # 36**20 ~ 2**103; lower case survives systems that fold email case
ENTROPY_BYTES = 32
# Fewest random digits a format-preserving card token may have: below this the tokens of every
# card sharing the kept digits fit in too small a space (first 8 + last 4 of 16 leaves 4).
MIN_RANDOM_PAN_DIGITS = 5
MIN_RANDOM_PHONE_DIGITS = 6
MAX_KEEP_FIRST, MAX_KEEP_LAST = 8, 4  # PCI DSS 3.4.1 and the 8-digit BIN FAQ

FormatKind = Literal["opaque", "pan", "email", "phone"]
_PAN_FORMAT = re.compile(r"^pan(?:_first(\d))?_last(\d)$")


@dataclass(frozen=True, slots=True)
class TokenFormat:
    name: str
    kind: FormatKind
    keep_first: int = 0
    keep_last: int = 0


def parse_format(spec: TypeSpec, name: str | None) -> TokenFormat:
    """The format ``name`` for a type (its default when None), or FormatRefused."""
    return _parse_format(spec.type, name or spec.default_format)


# Parsed once per (type, name): every item of a batch names the same format. Refusals are not
# cached (raised afresh each time); the bound holds however many names callers invent.
@functools.lru_cache(maxsize=256)
def _parse_format(token_type: TokenType, name: str) -> TokenFormat:
    if name == "opaque":
        return TokenFormat("opaque", "opaque")
    if token_type is TokenType.PAN:
        match = _PAN_FORMAT.match(name)
        if match:
            first, last = int(match.group(1) or 0), int(match.group(2))
            if first > MAX_KEEP_FIRST or last > MAX_KEEP_LAST:
                raise FormatRefused(
                    f"card tokens keep at most the first {MAX_KEEP_FIRST} and last "
                    f"{MAX_KEEP_LAST} digits"
                )
            return TokenFormat(name, "pan", first, last)
    if token_type is TokenType.EMAIL and name == "email_domain":
        return TokenFormat(name, "email")
    if token_type is TokenType.PHONE and name == "phone_country":
        return TokenFormat(name, "phone")
    raise FormatRefused(f"format {name!r} does not exist for {token_type} tokens")


def check_token_space(fmt: TokenFormat, value: str) -> None:
    """Refuse a format whose tokens for this value would fit in too small a space."""
    if fmt.kind == "pan":
        random_digits = len(value) - fmt.keep_first - fmt.keep_last
        if random_digits < MIN_RANDOM_PAN_DIGITS:
            raise FormatRefused(
                f"format {fmt.name} leaves {random_digits} random digits for this card length; "
                f"at least {MIN_RANDOM_PAN_DIGITS} are required"
            )
    elif fmt.kind == "phone":
        national = len(value) - 1 - len(country_calling_code(value))
        if national < MIN_RANDOM_PHONE_DIGITS:
            raise FormatRefused("this phone number is too short for a format-preserving token")


def generate_token(spec: TypeSpec, fmt: TokenFormat, value: str, entropy: bytes) -> str:
    """A token for ``value`` (already normalized) drawn from ``entropy`` (>= 32 bytes)."""
    pool = int.from_bytes(entropy, "big")
    if fmt.kind == "pan":
        return _pan_token(value, fmt, pool)
    if fmt.kind == "email":
        domain = value.rsplit("@", 1)[1]
        body = "tok_" + _encode(pool, BASE36, EMAIL_RANDOM_CHARS)
        return f"{body}{_check_char(body, BASE36)}@{domain}"
    if fmt.kind == "phone":
        code = country_calling_code(value)
        national = len(value) - 1 - len(code)
        return "+" + code + _encode_digits(pool, national)
    body = f"tok_{spec.prefix}_" + _encode(pool, BASE62, OPAQUE_RANDOM_CHARS)
    return body + _check_char(body, BASE62)


def _pan_token(pan: str, fmt: TokenFormat, pool: int) -> str:
    free_length = len(pan) - fmt.keep_first - fmt.keep_last - 1
    pool, free = divmod(pool, 10**free_length)
    head = pan[: fmt.keep_first] + _encode_digits(free, free_length)
    tail = pan[len(pan) - fmt.keep_last :] if fmt.keep_last else ""
    # Exactly one digit in the last random position makes the number Luhn-valid; draw among
    # the nine others, so a token can never be mistaken for (or charged as) a card number.
    valid = _luhn_completing_digit(head, tail)
    drawn = pool % 9
    return head + str(drawn if drawn < valid else drawn + 1) + tail


_UNDOUBLED = (0, 5, 1, 6, 2, 7, 3, 8, 4, 9)  # _UNDOUBLED[d]: the digit Luhn doubles into d


def _luhn_completing_digit(head: str, tail: str) -> int:
    """The one digit d for which ``head + d + tail`` passes the Luhn check."""
    # A 0 adds nothing, doubled or not: the sum is that of every other digit.
    needed = -luhn_sum(head + "0" + tail) % 10
    # The missing digit sits at position len(tail) from the right: doubled when that is odd.
    return _UNDOUBLED[needed] if len(tail) % 2 else needed


def _encode_digits(pool: int, length: int) -> str:
    """The ``length`` lowest decimal digits of ``pool``, least significant first."""
    return str(pool % 10**length).zfill(length)[::-1] if length > 0 else ""


# Every two-character string of an alphabet, indexed by its value (first character least
# significant), so base-N encoding takes one division per two characters.
_PAIRS = {
    alphabet: tuple(low + high for high in alphabet for low in alphabet)
    for alphabet in (BASE62, BASE36)
}


def _encode(pool: int, alphabet: str, length: int) -> str:
    """The ``length`` lowest base-N digits of ``pool`` in ``alphabet``, least significant first."""
    pairs, base = _PAIRS[alphabet], len(alphabet)
    pair_base = base * base
    chars = []
    for _ in range(length // 2):
        pool, index = divmod(pool, pair_base)
        chars.append(pairs[index])
    if length % 2:
        chars.append(alphabet[pool % base])
    return "".join(chars)


def _check_char(body: str, alphabet: str) -> str:
    return alphabet[zlib.crc32(body.encode()) % len(alphabet)]


_OPAQUE = re.compile(rf"^tok_([a-z]{{3,4}})_([0-9A-Za-z]{{{OPAQUE_RANDOM_CHARS}}})([0-9A-Za-z])$")
_EMAIL_TOKEN = re.compile(rf"^(tok_[0-9a-z]{{{EMAIL_RANDOM_CHARS}}})([0-9a-z])@[^@\s]+$")


def check_token_shape(spec: TypeSpec, token: str) -> None:
    """Reject, without a database lookup, a string no format of this type could have made."""
    if len(token) > 300:
        raise TokenMalformed("not a token of this vault")
    opaque = _OPAQUE.match(token)
    if opaque:
        body = token[:-1]
        if opaque.group(1) == spec.prefix and _check_char(body, BASE62) == token[-1]:
            return
        raise TokenMalformed("not a token of this vault (prefix or checksum)")
    digits = token.isascii() and token.isdigit()
    if spec.type is TokenType.PAN and digits and 13 <= len(token) <= 19 and not luhn_valid(token):
        return
    if spec.type is TokenType.EMAIL:
        email = _EMAIL_TOKEN.match(token)
        if email and _check_char(email.group(1), BASE36) == email.group(2):
            return
    phone_digits = token[1:].isascii() and token[1:].isdigit()
    if spec.type is TokenType.PHONE and token[:1] == "+" and phone_digits and 8 <= len(token) <= 16:
        return
    raise TokenMalformed("not a token of this vault")
