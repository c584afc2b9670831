"""Errors of the MFA package.

RampartError
 └── ValidationFailed
      ├── InvalidCode            422  a TOTP or recovery code that is wrong, used or expired
      ├── EnrolmentExpired       422  the sealed enrolment secret is stale or forged
      └── WebAuthnFailed         422  py_webauthn refused the ceremony (reason kept generic)
"""

from __future__ import annotations

from core.errors import ValidationFailed


class InvalidCode(ValidationFailed):
    slug, title = "invalid-code", "That code is not valid"


class EnrolmentExpired(ValidationFailed):
    slug, title = "enrolment-expired", "The enrolment expired; start again"


class WebAuthnFailed(ValidationFailed):
    slug, title = "webauthn-failed", "The security key could not be verified"
