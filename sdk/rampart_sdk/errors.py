"""Errors of the SDK.

RampartSdkError                 base
 ├── TokenInvalid               an access token to refuse (reason is safe to log)
 ├── PermissionDenied           the decision API said no
 └── RampartUnavailable         Rampart (JWKS, decision API, vault) could not be reached
      └── RampartRequestFailed  Rampart answered with an error (status and problem type kept)
"""

from __future__ import annotations


class RampartSdkError(Exception):
    """Base of every error the SDK raises."""


class TokenInvalid(RampartSdkError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PermissionDenied(RampartSdkError):
    pass


class RampartUnavailable(RampartSdkError):
    pass


class RampartRequestFailed(RampartUnavailable):
    def __init__(self, status: int, problem_type: str | None, detail: str) -> None:
        super().__init__(f"{status} {problem_type or ''}: {detail}".strip())
        self.status = status
        self.problem_type = problem_type
