"""Errors of the policy store, the policy files and the decision API.

RampartError
 ├── ValidationFailed
 │    ├── PolicyInvalid (policies.enforcer)  a line the enforcer cannot evaluate exactly
 │    ├── PolicyFileInvalid                  a policy or policy-test file that cannot be read
 │    └── BatchTooLarge                      more checks in one call than the API allows
 ├── NotFound
 │    └── PolicyVersionNotFound              no such version to show or roll back to
 ├── Conflict
 │    └── PolicyChangedConcurrently          another change took the version number first
 └── ServiceUnavailable
      └── PolicyStoreUnavailable             no policy loaded yet: refuse (fail closed)
"""

from __future__ import annotations

from core.errors import Conflict, NotFound, ServiceUnavailable, ValidationFailed
from policies.enforcer.exceptions import PolicyInvalid

__all__ = [
    "BatchTooLarge",
    "PolicyChangedConcurrently",
    "PolicyFileInvalid",
    "PolicyInvalid",
    "PolicyStoreUnavailable",
    "PolicyVersionNotFound",
]


class PolicyFileInvalid(ValidationFailed):
    slug, title = "policy-file-invalid", "Policy file is invalid"


class BatchTooLarge(ValidationFailed):
    slug, title = "authz-batch-too-large", "Too many checks in one call"


class PolicyVersionNotFound(NotFound):
    slug, title = "policy-version-not-found", "Policy version not found"


class PolicyChangedConcurrently(Conflict):
    slug, title = "policy-changed-concurrently", "Policy changed concurrently; retry"


class PolicyStoreUnavailable(ServiceUnavailable):
    slug, title = "policy-store-unavailable", "Policy store unavailable"
