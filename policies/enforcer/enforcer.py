"""The indexed enforcer: pycasbin's decisions for policies/model.conf, from candidate rules only.

Rules are indexed by domain, then by resource path (a segment trie, grouped by subject where the
pattern ends); a request looks up its user's role closure and visits only rules that can match.
Every mutation bumps ``version``; the optional match cache is keyed by it and bounded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from policies.enforcer.conditions import DecisionContext
from policies.enforcer.patterns import PathTrie
from policies.enforcer.roles import DomainRoleGraph
from policies.enforcer.rules import PolicyRule, parse_line

ANY = "*"


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer, the policy version it was taken on, and the rule that decided it (explain):
    the first matching deny when denied by one, else the first matching allow, else None."""

    allowed: bool
    policy_version: int
    rule: PolicyRule | None


class IndexedEnforcer:
    """Decides exactly like ``casbin.Enforcer`` on policies/model.conf, in microseconds."""

    def __init__(self, lines: Iterable[str] = (), *, match_cache_size: int = 0) -> None:
        self._rules: dict[PolicyRule, PolicyRule] = {}
        self._tries: dict[str, PathTrie[PolicyRule]] = {}  # by domain
        self._roles = DomainRoleGraph()
        self._next_seq = 0
        self._write_lock = threading.Lock()
        self.version = 0
        self._cached_match = (
            lru_cache(maxsize=match_cache_size)(self._match) if match_cache_size > 0 else None
        )
        if lines:
            self.load_lines(lines)

    # -- loading and deltas ------------------------------------------------------------------

    def load_lines(self, lines: Iterable[str]) -> None:
        """Add every ``p``/``g`` line (duplicates are kept once); one version bump for the lot."""
        with self._write_lock:
            for line in lines:
                parsed = parse_line(line)
                if isinstance(parsed, PolicyRule):
                    self._insert(parsed)
                elif parsed is not None:
                    self._roles.add_link(*parsed)
            self._bump()

    def add_policy(
        self, sub: str, dom: str, obj: str, act: str, eft: str = "allow", cond: str = ""
    ) -> bool:
        rule = PolicyRule(sub, dom, obj, act, eft, cond)
        with self._write_lock:
            added = self._insert(rule)
            if added:
                self._bump()
            return added

    def remove_policy(
        self, sub: str, dom: str, obj: str, act: str, eft: str = "allow", cond: str = ""
    ) -> bool:
        probe = PolicyRule(sub, dom, obj, act, eft, cond)
        with self._write_lock:
            rule = self._rules.pop(probe, None)
            if rule is None:
                return False
            trie = self._tries[rule.dom]
            trie.remove(rule.obj, rule)
            if trie.root.is_empty():
                del self._tries[rule.dom]
            self._bump()
            return True

    def add_grouping(self, user: str, role: str, domain: str) -> bool:
        with self._write_lock:
            added = self._roles.add_link(user, role, domain)
            if added:
                self._bump()
            return added

    def remove_grouping(self, user: str, role: str, domain: str) -> bool:
        with self._write_lock:
            removed = self._roles.remove_link(user, role, domain)
            if removed:
                self._bump()
            return removed

    def policy_lines(self) -> list[str]:
        """Every rule in decision order, then every link: what another enforcer should load."""
        rules = sorted(self._rules.values(), key=lambda rule: rule.seq)
        links = [f"g, {user}, {role}, {domain}" for user, role, domain in self._roles.links()]
        return [rule.as_line() for rule in rules] + links

    def __len__(self) -> int:
        return len(self._rules)

    def _insert(self, rule: PolicyRule) -> bool:
        if rule in self._rules:
            return False
        object.__setattr__(rule, "seq", self._next_seq)
        self._next_seq += 1
        self._rules[rule] = rule
        trie = self._tries.get(rule.dom)
        if trie is None:
            trie = self._tries[rule.dom] = PathTrie()
        trie.insert(rule.obj, rule)
        return True

    def _bump(self) -> None:
        self.version += 1
        if self._cached_match is not None:
            self._cached_match.cache_clear()

    # -- deciding ----------------------------------------------------------------------------

    def enforce(self, sub: str, dom: str, obj: str, act: str, ctx: DecisionContext) -> bool:
        """What ``casbin.Enforcer.enforce(sub, dom, obj, act, ctx)`` answers."""
        return self.decide(sub, dom, obj, act, ctx).allowed

    def decide(self, sub: str, dom: str, obj: str, act: str, ctx: DecisionContext) -> Decision:
        version = self.version
        if self._cached_match is not None:
            candidates = self._cached_match(version, sub, dom, obj, act)
        else:
            candidates = self._match(version, sub, dom, obj, act)
        allow: PolicyRule | None = None
        deny: PolicyRule | None = None
        for rule in candidates:
            predicate = rule.predicate
            if predicate is not None and not predicate(ctx):
                continue
            if rule.deny:
                if deny is None or rule.seq < deny.seq:
                    deny = rule
            elif allow is None or rule.seq < allow.seq:
                allow = rule
        if deny is not None:
            return Decision(False, version, deny)
        return Decision(allow is not None, version, allow)

    def _match(self, version: int, sub: str, dom: str, obj: str, act: str) -> list[PolicyRule]:
        """Rules whose domain, subject (via roles), resource and action match; conditions aside."""
        subjects = self._roles.roles_of(sub, dom)
        tries = [self._tries.get(dom)]
        if dom != ANY:
            tries.append(self._tries.get(ANY))
        found: list[PolicyRule] = []
        if "\n" in obj:
            self._collect_with_newline(tries, subjects, obj, found)
        else:
            segments = obj.split("/")
            for trie in tries:
                if trie is not None:
                    trie.collect(segments, subjects, found)
        return [
            rule
            for rule in found
            if (rule.actions is None or act in rule.actions)
            and (rule.regex is None or rule.regex.match(obj) is not None)
        ]

    @staticmethod
    def _collect_with_newline(
        tries: list[PathTrie[PolicyRule] | None],
        subjects: frozenset[str],
        obj: str,
        found: list[PolicyRule],
    ) -> None:
        # pycasbin's regex ends in '$', which also matches before a final newline, and its '.*'
        # (from '/*') stops at a newline: walk the path as is and without its final newline,
        # letting a '/*' match only a rest free of newlines.
        bodies = [obj, obj[:-1]] if obj.endswith("\n") else [obj]
        for body in bodies:
            segments = body.split("/")
            tail_ok = [False] * len(segments)
            clean = True
            for depth in range(len(segments) - 1, -1, -1):
                clean = clean and "\n" not in segments[depth]
                tail_ok[depth] = clean
            for trie in tries:
                if trie is not None:
                    trie.collect(segments, subjects, found, tail_ok)
        if len(bodies) > 1:
            found[:] = dict.fromkeys(found)
