"""One error base for the whole project, rendered as RFC 9457 problem+json by one handler.

RampartError                      500  generic failure with a stable type
 ├── BadRequest                   400
 │    └── ValidationFailed        422
 ├── Unauthenticated              401
 ├── Forbidden                    403
 ├── NotFound                     404
 ├── Conflict                     409
 ├── ServiceUnavailable           503  a dependency (database, KMS, Redis) is down
 │    ├── KmsUnavailable          503
 │    └── DatabaseUnavailable     503
 └── SecretRefused                422  a value that looks secret was given where none may go
"""

from __future__ import annotations

from typing import Any, ClassVar

PROBLEM_BASE = "https://rampart.dev/problems/"


class RampartError(Exception):
    """Base of every error Rampart raises on purpose; carries what problem+json needs."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extensions = extensions

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.slug

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extensions)
        return body


class BadRequest(RampartError):
    status, slug, title = 400, "bad-request", "Bad request"


class ValidationFailed(BadRequest):
    status, slug, title = 422, "validation", "Request validation failed"


class Unauthenticated(RampartError):
    status, slug, title = 401, "unauthenticated", "Authentication required"


class LoginRequired(Unauthenticated):
    """A page asked for without a complete login: the browser is sent to ``sign_in`` (the IdP's
    login form unless the page names its own), and back to the page afterwards."""

    slug, title = "login-required", "Log in to see this page"

    def __init__(self, detail: str | None = None, *, sign_in: str = "/login") -> None:
        super().__init__(detail)
        self.sign_in = sign_in


class Forbidden(RampartError):
    status, slug, title = 403, "forbidden", "Not allowed"


class NotFound(RampartError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(RampartError):
    status, slug, title = 409, "conflict", "Conflict"


class ServiceUnavailable(RampartError):
    status, slug, title = 503, "unavailable", "Service unavailable"


class KmsUnavailable(ServiceUnavailable):
    slug, title = "kms-unavailable", "Key management service unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    slug, title = "database-unavailable", "Database unavailable"


class SecretRefused(RampartError):
    status, slug, title = 422, "secret-refused", "Value looks like a secret and was refused"
