"""Token types: how each kind of value is checked, normalized and masked, and its token prefix.

Checks never echo the value: errors name the rule that failed, not what was given.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from core.sensitive import luhn_sum
from vault.exceptions import (
    LuhnCheckFailed,
    RevealNotAllowed,
    UnknownTokenType,
    ValueLengthInvalid,
    ValueMalformed,
    ValueTooLarge,
)

MAX_VALUE_CHARS = 4096
MASK_CHAR = "*"


class TokenType(StrEnum):
    PAN = "pan"
    CVC = "cvc"
    SAD = "sad"
    EMAIL = "email"
    PHONE = "phone"
    IBAN = "iban"
    NATIONAL_ID = "national_id"
    NAME = "name"
    ADDRESS = "address"
    STRING = "string"


@dataclass(frozen=True, slots=True)
class TypeSpec:
    type: TokenType
    prefix: str
    normalize: Callable[[str], str]
    mask: Callable[[str], str] | None
    sensitive_authentication: bool = False  # SAD: single use, TTL <= 1 h, no fingerprint
    personal: bool = False  # personal data: may be bound to a subject key (crypto-shredding)
    default_format: str = "opaque"


def parse_type(name: str) -> TypeSpec:
    try:
        return TYPES[TokenType(name)]
    except ValueError:
        raise UnknownTokenType("unknown token type; see docs/vault.md for the list") from None


def _check_size(value: str) -> None:
    if len(value) > MAX_VALUE_CHARS:
        raise ValueTooLarge(f"values are limited to {MAX_VALUE_CHARS} characters")
    if not value:
        raise ValueLengthInvalid("value is empty")


def normalize_pan(value: str) -> str:
    _check_size(value)
    digits = value.replace(" ", "").replace("-", "")
    if not digits.isascii() or not digits.isdigit():
        raise ValueMalformed("a card number holds digits only (spaces or dashes between groups)")
    if not 13 <= len(digits) <= 19:
        raise ValueLengthInvalid("a card number has 13 to 19 digits")
    if luhn_sum(digits) % 10:
        raise LuhnCheckFailed("the card number's check digit is wrong")
    return digits


def normalize_cvc(value: str) -> str:
    _check_size(value)
    if not value.isascii() or not value.isdigit():
        raise ValueMalformed("a card security code holds digits only")
    if not 3 <= len(value) <= 4:
        raise ValueLengthInvalid("a card security code has 3 or 4 digits")
    return value


def normalize_sad(value: str) -> str:
    _check_size(value)
    if len(value) > 512:
        raise ValueLengthInvalid("sensitive authentication data is at most 512 characters")
    return value


_EMAIL = re.compile(
    r"^[^@\s]{1,64}@([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


def normalize_email(value: str) -> str:
    _check_size(value)
    value = value.strip()
    if len(value) > 254:
        raise ValueLengthInvalid("an email address is at most 254 characters")
    if not _EMAIL.match(value):
        raise ValueMalformed("not an email address (local@domain.tld)")
    local, domain = value.rsplit("@", 1)
    # Domains are case-insensitive; local parts are not (RFC 5321), so only the domain folds.
    return f"{local}@{domain.lower()}"


_PHONE_SEPARATORS = re.compile(r"[ ().-]")


def normalize_phone(value: str) -> str:
    _check_size(value)
    compact = _PHONE_SEPARATORS.sub("", value.strip())
    if not compact.startswith("+") or not compact[1:].isascii() or not compact[1:].isdigit():
        raise ValueMalformed("a phone number is in E.164 form: + then digits")
    if not 8 <= len(compact) - 1 <= 15:
        raise ValueLengthInvalid("an E.164 phone number has 8 to 15 digits")
    return compact


_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
# ISO 13616 check: letters count as two-digit numbers, A = 10 to Z = 35.
_IBAN_LETTER_NUMBERS = str.maketrans(
    {letter: str(number) for number, letter in enumerate(string.ascii_uppercase, start=10)}
)


def normalize_iban(value: str) -> str:
    _check_size(value)
    compact = value.replace(" ", "").upper()
    if not _IBAN.fullmatch(compact):
        raise ValueMalformed(
            "an IBAN is a country code, two check digits and 11 to 30 letters/digits"
        )
    rearranged = compact[4:] + compact[:4]
    if int(rearranged.translate(_IBAN_LETTER_NUMBERS)) % 97 != 1:
        raise ValueMalformed("the IBAN's check digits are wrong")
    return compact


_NATIONAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ./-]{0,63}")


def normalize_national_id(value: str) -> str:
    _check_size(value)
    compact = value.strip()
    if not _NATIONAL_ID.fullmatch(compact):
        raise ValueMalformed("a national id is 1 to 64 letters, digits, spaces, dots or dashes")
    return compact


_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f]")  # below 32 except tab and newline


def normalize_text(value: str) -> str:
    _check_size(value)
    if not value.strip():
        raise ValueLengthInvalid("value is blank")
    if _CONTROL_CHARS.search(value):
        raise ValueMalformed("value holds control characters")
    return value


def _keep(value: str, first: int, last: int) -> str:
    hidden = max(0, len(value) - first - last)
    return value[:first] + MASK_CHAR * hidden + (value[len(value) - last :] if last else "")


def mask_pan(value: str) -> str:
    # PCI DSS 3.4.1: at most the BIN (first six) and the last four are displayed.
    return _keep(value, 6, 4) if len(value) >= 15 else _keep(value, 0, 4)


def mask_email(value: str) -> str:
    local, domain = value.rsplit("@", 1)
    return local[:1] + MASK_CHAR * 3 + "@" + domain


def mask_phone(value: str) -> str:
    code = country_calling_code(value)
    return "+" + code + MASK_CHAR * (len(value) - 1 - len(code) - 2) + value[-2:]


def mask_iban(value: str) -> str:
    return _keep(value, 4, 4)


def mask_national_id(value: str) -> str:
    return _keep(value, 0, 2) if len(value) > 4 else MASK_CHAR * len(value)


def mask_name(value: str) -> str:
    return " ".join(part[:1] + MASK_CHAR * 3 for part in value.split())


def mask_fully(_value: str) -> str:
    return MASK_CHAR * 8


# ITU-T E.164 country calling codes form a prefix code: 1 and 7 are one digit, these are two,
# every other code is three digits.
_TWO_DIGIT_CODES_TEXT = (
    "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 "
    "60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98"
)
_TWO_DIGIT_CODES = frozenset(_TWO_DIGIT_CODES_TEXT.split())


def country_calling_code(e164: str) -> str:
    digits = e164[1:]
    if digits[0] in "17":
        return digits[0]
    if digits[:2] in _TWO_DIGIT_CODES:
        return digits[:2]
    return digits[:3]


def mask(spec: TypeSpec, value: str) -> str:
    if spec.mask is None:
        raise RevealNotAllowed(f"{spec.type} values have no masked form")
    return spec.mask(value)


TYPES: dict[TokenType, TypeSpec] = {
    spec.type: spec
    for spec in (
        TypeSpec(TokenType.PAN, "pan", normalize_pan, mask_pan, default_format="pan_last4"),
        TypeSpec(TokenType.CVC, "cvc", normalize_cvc, None, sensitive_authentication=True),
        TypeSpec(TokenType.SAD, "sad", normalize_sad, None, sensitive_authentication=True),
        TypeSpec(TokenType.EMAIL, "eml", normalize_email, mask_email, personal=True),
        TypeSpec(TokenType.PHONE, "phn", normalize_phone, mask_phone, personal=True),
        TypeSpec(TokenType.IBAN, "iban", normalize_iban, mask_iban, personal=True),
        TypeSpec(
            TokenType.NATIONAL_ID, "nid", normalize_national_id, mask_national_id, personal=True
        ),
        TypeSpec(TokenType.NAME, "nam", normalize_text, mask_name, personal=True),
        TypeSpec(TokenType.ADDRESS, "adr", normalize_text, mask_fully, personal=True),
        TypeSpec(TokenType.STRING, "str", normalize_text, mask_fully, personal=True),
    )
}
