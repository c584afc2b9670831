"""The contract between a check and the engine: what a check is given, what it answers, and the
decorator that registers it. Adding a check is a function of about ten lines in an area module.

A check never raises on purpose for a failing control: it returns ``CheckResult.failing``. An
exception or a timeout becomes an ``error`` result in the engine, never a crash of the run.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import httpx
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings

CheckStatus = Literal["pass", "fail", "error", "manual", "not_applicable"]
CheckKind = Literal["probe", "read"]
"""``probe``: exercises live behaviour (a real login, a TLS handshake, a real session);
``read``: inspects stored configuration or state."""

Json = Any  # plain JSON values: what ``observed`` and ``expected`` hold


@dataclass(frozen=True)
class Artefact:
    """A file kept with the evidence (a report, a handshake transcript); hashed with SHA-256."""

    name: str
    media_type: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class CheckResult:
    status: CheckStatus
    observed: Json
    expected: Json
    detail: str = ""
    artefacts: tuple[Artefact, ...] = ()
    target: str = "rampart"

    @classmethod
    def judge(
        cls, ok: bool, observed: Json, expected: Json, detail: str = "", **extra: Any
    ) -> CheckResult:
        return cls("pass" if ok else "fail", observed, expected, detail, **extra)


@dataclass
class CheckContext:
    """What a check may use. ``session`` is the run's own session (the engine rolls back what a
    check leaves unflushed); ``sessions`` opens independent transactions for probes that must see
    committed state; ``http`` talks to the live server at ``base_url`` (real HTTP, real guard)."""

    settings: Settings
    session: Session
    sessions: sessionmaker[Session]
    http: httpx.Client
    base_url: str
    now: datetime
    options: Mapping[str, Json] = field(default_factory=dict)


CheckFunction = Callable[[CheckContext], CheckResult]


@dataclass(frozen=True)
class RegisteredCheck:
    id: str
    """Stable, dotted: ``<area>.<what>``, e.g. ``iam.lockout_probe``."""
    title: str
    controls: tuple[str, ...]
    """Qualified control ids: ``pci-dss-4.0.1:8.3.4``, ``gdpr:art-32``."""
    kind: CheckKind
    timeout_seconds: float
    function: CheckFunction

    @property
    def version(self) -> str:
        """SHA-256 (first 16 hex) of the check's source: a changed check is a new version."""
        return _source_version(self.function)


@functools.cache
def _source_version(function: CheckFunction) -> str:
    # Once per function and process: inspect.getsource re-reads and re-tokenizes the module on
    # every call (~4 ms), which held evidence writes to ~200/s (benchmarks/bench_compliance.py).
    source = inspect.getsource(function).encode()
    return hashlib.sha256(source).hexdigest()[:16]


REGISTRY: dict[str, RegisteredCheck] = {}


def check(
    id: str,
    *,
    title: str,
    controls: tuple[str, ...] | list[str],
    kind: CheckKind = "read",
    timeout_seconds: float = 10.0,
) -> Callable[[CheckFunction], CheckFunction]:
    """Register ``function`` as the automated check ``id`` for ``controls``."""

    def register(function: CheckFunction) -> CheckFunction:
        if id in REGISTRY:
            raise ValueError(f"compliance check {id!r} is registered twice")
        REGISTRY[id] = RegisteredCheck(id, title, tuple(controls), kind, timeout_seconds, function)
        return function

    return register
