"""Errors of the vault. None of them ever carries a value or a token, only what kind of problem.

ValidationFailed (core)           422
 ├── ValueMalformed               422  wrong characters or shape for the type
 │    ├── LuhnCheckFailed         422  a card number whose check digit is wrong
 │    ├── ValueLengthInvalid      422  too short or too long for the type
 │    └── ValueTooLarge           422  over the vault's per-value size limit
 ├── TokenMalformed               422  not a token of this vault (shape or checksum)
 ├── FormatRefused                422  unknown format, or its token space is too small
 ├── PurposeInvalid               422  detokenize needs a declared purpose
 └── TtlInvalid                   422  time to live out of bounds (SAD: at most one hour)
NotFound (core)                   404
 ├── UnknownTokenType             404
 └── TokenNotFound                404  no such token for this tenant and type
Gone                              410
 ├── TokenExpired                 410  expired, or a single-use token already used
 └── ValueErased                  410  its subject was erased: the key is destroyed
BatchTooLarge                     413  over the item or byte limit: refused whole
RevealNotAllowed                  422  the type has no masked form (SAD)
TokenSpaceExhausted               409  collisions kept happening: retry later or widen format
ScopeInvalid                      422  a comparison scope name that is not one
CandidateBudgetExceeded           429  too many comparable answers in the window (no oracles)
"""

from __future__ import annotations

from core.errors import Conflict, NotFound, RampartError, ValidationFailed


class ValueMalformed(ValidationFailed):
    slug, title = "vault-value-malformed", "Value malformed for its type"


class LuhnCheckFailed(ValueMalformed):
    slug, title = "vault-luhn-failed", "Card number fails the Luhn check"


class ValueLengthInvalid(ValueMalformed):
    slug, title = "vault-value-length", "Value length invalid for its type"


class ValueTooLarge(ValueMalformed):
    slug, title = "vault-value-too-large", "Value larger than the vault accepts"


class TokenMalformed(ValidationFailed):
    slug, title = "vault-token-malformed", "Not a token of this vault"


class FormatRefused(ValidationFailed):
    slug, title = "vault-format-refused", "Token format refused"


class PurposeInvalid(ValidationFailed):
    slug, title = "vault-purpose-invalid", "A declared purpose is required"


class TtlInvalid(ValidationFailed):
    slug, title = "vault-ttl-invalid", "Time to live out of bounds"


class UnknownTokenType(NotFound):
    slug, title = "vault-unknown-type", "Unknown token type"


class TokenNotFound(NotFound):
    slug, title = "vault-token-not-found", "Token not found"


class Gone(RampartError):
    status, slug, title = 410, "gone", "Gone"


class TokenExpired(Gone):
    slug, title = "vault-token-expired", "Token expired or already used"


class ValueErased(Gone):
    slug, title = "vault-value-erased", "Value erased (its key was destroyed)"


class BatchTooLarge(RampartError):
    status, slug, title = 413, "vault-batch-too-large", "Batch too large"


class RevealNotAllowed(ValidationFailed):
    slug, title = "vault-reveal-not-allowed", "This type has no masked form"


class TokenSpaceExhausted(Conflict):
    slug, title = "vault-token-space-exhausted", "Could not find a free token"


class ScopeInvalid(ValidationFailed):
    slug, title = "vault-scope-invalid", "Comparison scope name invalid"


class CandidateBudgetExceeded(RampartError):
    status, slug, title = 429, "vault-candidate-budget-exceeded", "Comparison budget exceeded"
