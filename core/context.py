"""Who is acting and from where, for the current request, job or CLI command.

The boundary (HTTP middleware, job runner, CLI) sets it; the audit ledger and logs read it.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ActingContext:
    actor: str = "system"
    origin: str | None = None
    request_id: str | None = None


_SYSTEM = ActingContext()
_current: ContextVar[ActingContext] = ContextVar("rampart_acting_context", default=_SYSTEM)


def current() -> ActingContext:
    return _current.get()


def set_current(context: ActingContext) -> object:
    """Set the context; returns a token for :func:`reset`."""
    return _current.set(context)


def reset(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
