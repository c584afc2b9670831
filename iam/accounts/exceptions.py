"""Errors of the accounts package.

RampartError
 ├── Unauthenticated
 │    └── InvalidCredentials     401  wrong password, unknown email, locked, disabled, throttled
 ├── ValidationFailed
 │    ├── PasswordRejected       422  a password rule refused it (reasons listed)
 │    └── InvalidEmail           422
 └── NotFound
      └── UserNotFound           404
"""

from __future__ import annotations

from core.errors import NotFound, Unauthenticated, ValidationFailed

INVALID_CREDENTIALS_MESSAGE = "Invalid email or password"


class InvalidCredentials(Unauthenticated):
    """One answer for every refused login, so it reveals neither accounts nor lockouts."""

    slug, title = "invalid-credentials", INVALID_CREDENTIALS_MESSAGE

    def __init__(self) -> None:
        super().__init__(INVALID_CREDENTIALS_MESSAGE)


class PasswordRejected(ValidationFailed):
    slug, title = "password-rejected", "Password rejected"

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(" ".join(reasons), reasons=reasons)
        self.reasons = reasons


class InvalidEmail(ValidationFailed):
    slug, title = "invalid-email", "Invalid email address"


class UserNotFound(NotFound):
    slug, title = "user-not-found", "User not found"
