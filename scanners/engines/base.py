"""What every engine (builtin, wapiti, ZAP) gets and gives: a :class:`ScanRequest` (target, scope,
limits, auth headers) in, a stream of :class:`Observation` and :class:`Progress` events out.
Observations name engine-independent rule keys (``scanners.rules``); the findings service
normalises, fingerprints and stores them, so results do not depend on the engine."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

ENGINE_NAMES = ("builtin", "wapiti", "zap")


@dataclass(frozen=True, slots=True)
class Scope:
    """Same origin as ``base_url``; a URL is in scope when it matches an ``include`` pattern (or
    there are none) and no ``exclude`` pattern. Patterns are regular expressions matched
    against the whole URL, as in a ZAP context."""

    base_url: str
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def allows(self, url: str) -> bool:
        if self.include and not any(re.fullmatch(p, url) for p in self.include):
            return False
        return not any(re.fullmatch(p, url) for p in self.exclude)


@dataclass(frozen=True, slots=True)
class Limits:
    max_pages: int
    max_depth: int
    max_seconds: float
    request_timeout: float
    max_response_bytes: int


@dataclass(frozen=True, slots=True)
class ScanRequest:
    target: str  # the registered target's name
    scope: Scope
    limits: Limits
    allow_private: bool
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)  # auth: never logged


@dataclass(frozen=True, slots=True)
class Observation:
    """One issue an engine saw. ``rule`` is a key of ``scanners.rules.RULES``; ``risk`` and
    ``confidence`` override the rule's defaults; ``evidence`` may hold a card number: the
    findings service masks it before it is stored or shown."""

    rule: str
    url: str
    method: str = "GET"
    parameter: str = ""
    evidence: str = ""
    risk: str | None = None
    confidence: str = "medium"


@dataclass(frozen=True, slots=True)
class Progress:
    done: int
    total: int
    message: str = ""


Event = Observation | Progress


class Engine(Protocol):
    name: str

    def scan(self, request: ScanRequest) -> Iterator[Event]:
        """Scan within the request's scope and limits. Raises a RampartError (TargetRefused,
        ScanFailed) when the target cannot be scanned at all; a page that fails is skipped."""
        ...
