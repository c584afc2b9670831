"""Errors of the SDK.

RampartSdkError                 base
 ├── TokenInvalid               an access token to refuse (reason is safe to log; for a
 │                              wrong issuer or audience, the message names both values)
 ├── PermissionDenied           the decision API said no
 └── RampartUnavailable         Rampart (JWKS, decision API, vault) could not be reached
      └── RampartRequestFailed  Rampart answered with an error (status and problem type kept)
"""

from __future__ import annotations


class RampartSdkError(Exception):
    """Base of every error the SDK raises."""


class TokenInvalid(RampartSdkError):
    """``reason`` is a short category ("expired", "wrong issuer"...). For a claim that names
    the wrong party, ``expected`` and ``actual`` hold both values (an issuer or audience is
    public; they are read only after the signature checked out), and the message shows them:
    a verifier configured for ``:8000`` facing tokens of ``:9000`` says so."""

    def __init__(self, reason: str, *, expected: str | None = None, actual: object = None) -> None:
        message = reason
        if expected is not None:
            message = f"{reason}: expected {expected!r}, got {_short(actual)}"
        super().__init__(message)
        self.reason = reason
        self.expected = expected
        self.actual = actual


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


class PermissionDenied(RampartSdkError):
    pass


class RampartUnavailable(RampartSdkError):
    pass


class RampartRequestFailed(RampartUnavailable):
    def __init__(self, status: int, problem_type: str | None, detail: str) -> None:
        super().__init__(f"{status} {problem_type or ''}: {detail}".strip())
        self.status = status
        self.problem_type = problem_type
