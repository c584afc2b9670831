"""The policy this process enforces: an IndexedEnforcer and zone map at one store version, swapped
whole on a reload and changed in place, in a safe order, by a delta from the next version.

A principal is several Casbin subjects (its own name and its roles): a decision denies when any of
them meets a matching deny, else allows when any meets a matching allow — the model's effect
``some(allow) && !some(deny)`` over the union of their rules.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from policies.document import enforcer_lines, is_zone, zones_of
from policies.enforcer import DecisionContext, IndexedEnforcer, NetworkZones, PolicyRule
from policies.enforcer.rules import parse_line
from policies.exceptions import PolicyStoreUnavailable

if TYPE_CHECKING:
    from collections.abc import Iterable

# Above this many changed lines a fresh enforcer is built rather than patching the live one.
DELTA_IN_PLACE_LIMIT = 5000


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    allowed: bool
    policy_version: int
    rule: PolicyRule | None

    @property
    def rule_line(self) -> str | None:
        return None if self.rule is None else self.rule.as_line().rstrip()


def resource_path(obj: str) -> str:
    """Objects as paths: ``vault:pan`` -> ``vault/pan``. keyMatch2 reads ``:x`` inside a pattern
    as a parameter, so policies name resources with '/', and requests are mapped the same way."""
    return obj.replace(":", "/")


@dataclass(slots=True)
class _State:
    version: int
    enforcer: IndexedEnforcer
    zones: NetworkZones
    zone_lines: set[str]


class DecisionView:
    """Decisions on one consistent policy version (held while a batch is decided)."""

    __slots__ = ("_state",)

    def __init__(self, state: _State) -> None:
        self._state = state

    @property
    def version(self) -> int:
        return self._state.version

    def context(
        self,
        *,
        now: datetime,
        amr: Iterable[str] = (),
        auth_time: datetime | None = None,
        ip: str | None = None,
        client_id: str | None = None,
    ) -> DecisionContext:
        return DecisionContext.build(
            now=now,
            amr=amr,
            auth_time=auth_time,
            ip=ip,
            zones=self._state.zones,
            client_id=client_id,
        )

    def decide(
        self, subjects: Sequence[str], domain: str, obj: str, act: str, ctx: DecisionContext
    ) -> PolicyDecision:
        enforcer = self._state.enforcer
        path = resource_path(obj)
        allow: PolicyRule | None = None
        for subject in subjects:
            decision = enforcer.decide(subject, domain, path, act, ctx)
            rule = decision.rule
            if rule is not None and rule.deny:
                return PolicyDecision(False, self._state.version, rule)
            if decision.allowed and rule is not None and (allow is None or rule.seq < allow.seq):
                allow = rule
        return PolicyDecision(allow is not None, self._state.version, allow)


class PolicyRuntime:
    """Thread-safe holder of the enforced policy; one per process (:data:`runtime`)."""

    def __init__(self) -> None:
        self._state: _State | None = None
        # Decisions and in-place deltas exclude each other: the enforcer's indexes are plain
        # dicts that must not change while a lookup walks them.
        self._lock = threading.Lock()
        self._generation = 0

    @property
    def version(self) -> int | None:
        state = self._state
        return None if state is None else state.version

    @property
    def generation(self) -> int | None:
        """Changes whenever the enforced policy does (load, delta, forget), even to a version
        number seen before (another database); None while nothing is loaded. Decisions made at
        one generation may be remembered for it."""
        return None if self._state is None else self._generation

    def load(self, version: int, lines: Sequence[str]) -> None:
        """Replace the whole policy (built outside the lock, swapped in at once)."""
        state = _State(
            version=version,
            enforcer=IndexedEnforcer(enforcer_lines(lines)),
            zones=zones_of(lines),
            zone_lines={line for line in lines if is_zone(line)},
        )
        with self._lock:
            if self._state is None or self._state.version <= version:
                self._state = state
                self._generation += 1

    def apply_delta(
        self, from_version: int, to_version: int, added: Sequence[str], removed: Sequence[str]
    ) -> bool:
        """Move from ``from_version`` to ``to_version``; False when this process is not at
        ``from_version`` (the caller reloads) or the delta is too large to patch."""
        if len(added) + len(removed) > DELTA_IN_PLACE_LIMIT:
            return False
        with self._lock:
            state = self._state
            if state is None or state.version != from_version:
                return False
            _patch(state, added, removed)
            state.version = to_version
            self._generation += 1
            return True

    def forget(self) -> None:
        with self._lock:
            self._state = None
            self._generation += 1

    @contextmanager
    def view(self) -> Iterator[DecisionView]:
        """A consistent view for one or many decisions; fails closed when nothing is loaded."""
        with self._lock:
            state = self._state
            if state is None:
                raise PolicyStoreUnavailable("no policy is loaded yet; refusing (fail closed)")
            yield DecisionView(state)

    def lines(self) -> list[str]:
        with self._lock:
            state = self._state
            if state is None:
                return []
            rules = [line.rstrip() for line in state.enforcer.policy_lines()]
            return sorted(state.zone_lines) + rules


def _split(
    lines: Sequence[str],
) -> tuple[list[PolicyRule], list[PolicyRule], list[tuple[str, ...]]]:
    allows: list[PolicyRule] = []
    denies: list[PolicyRule] = []
    links: list[tuple[str, ...]] = []
    for line in lines:
        if is_zone(line):
            continue
        parsed = parse_line(line)
        if isinstance(parsed, PolicyRule):
            (denies if parsed.deny else allows).append(parsed)
        elif parsed is not None:
            links.append(parsed)
    return allows, denies, links


def _patch(state: _State, added: Sequence[str], removed: Sequence[str]) -> None:
    """Restrict first, then grant: every intermediate state allows no more than the old version
    (while restricting) or the new one (while granting)."""
    enforcer = state.enforcer
    new_allows, new_denies, new_links = _split(added)
    old_allows, old_denies, old_links = _split(removed)
    for rule in new_denies:
        enforcer.add_policy(*rule.key)
    for rule in old_allows:
        enforcer.remove_policy(*rule.key)
    for user, role, domain in old_links:
        enforcer.remove_grouping(user, role, domain)
    zone_lines = (state.zone_lines - set(removed)) | {line for line in added if is_zone(line)}
    if zone_lines != state.zone_lines:
        state.zones = zones_of(zone_lines)
        state.zone_lines = zone_lines
    for user, role, domain in new_links:
        enforcer.add_grouping(user, role, domain)
    for rule in new_allows:
        enforcer.add_policy(*rule.key)
    for rule in old_denies:
        enforcer.remove_policy(*rule.key)


runtime = PolicyRuntime()
