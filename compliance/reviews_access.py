"""Who can do what on which object: the access an access review lists, read from the live policy
lines and the accounts' roles through pycasbin's own role resolution (implicit roles and
permissions, ``has_link`` with its depth limit) and its own ``keyMatch2``, never a matcher of ours.

A person acts as ``user:<sub>`` plus ``role:<name>`` for each role of the account
(policies.principals.principal_subjects), so an account role is a start of its own next to the
subject; a service acts as ``client:<id>`` with the roles its ``g`` links give it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from casbin.util import key_match2

from policies.document import enforcer_lines
from policies.enforcer import PolicyRule, new_casbin_enforcer
from policies.enforcer.conditions import action_matches
from policies.enforcer.rules import parse_line
from policies.runtime import resource_path

ANY_DOMAIN = "*"
DEFAULT_DOMAIN = "rampart"
PERSON, SERVICE = "user:", "client:"


@dataclass(frozen=True)
class AccessScope:
    """Which access to list: one object (``vault/pan`` or ``vault:pan``) and/or one action."""

    object: str | None = None
    action: str | None = None

    def covers(self, rule: PolicyRule) -> bool:
        """Whether ``rule`` grants (or denies) this object and action, by pycasbin's keyMatch2
        and the model's actionMatch."""
        if self.object is not None and not key_match2(resource_path(self.object), rule.obj):
            return False
        return self.action is None or action_matches(self.action, rule.act)


@dataclass
class Access:
    """One permission of one subject: the allow rule, where it holds, and how it is granted."""

    subject: str
    domain: str
    rule: PolicyRule
    rule_line: str
    paths: list[str] = field(default_factory=list)
    """``direct``, ``role:<name>`` (a policy link) or ``account role <name>``, one per way."""
    revoke_lines: list[str] = field(default_factory=list)
    revoke_account_roles: list[str] = field(default_factory=list)
    denied_when: list[str] = field(default_factory=list)

    @property
    def granted_by(self) -> str:
        return ", ".join(self.paths)


def _rule(values: Sequence[str]) -> PolicyRule:
    sub, dom, obj, act, eft, cond = values
    return PolicyRule(sub, dom, obj, act, eft, cond)


def _add(values: list[str], value: str) -> None:
    if value not in values:
        values.append(value)


class AccessMap:
    """The access of every user and client in ``lines`` and of the accounts given."""

    def __init__(self, lines: Iterable[str], account_roles: Mapping[str, Sequence[str]]) -> None:
        self._lines = enforcer_lines(lines)
        self._account_roles = account_roles
        self._enforcer: Any = new_casbin_enforcer(self._lines)
        self._rule_lines: dict[tuple[str, ...], str] = {}
        subjects: set[str] = set(account_roles)
        domains: set[str] = {DEFAULT_DOMAIN}
        for line in self._lines:
            parsed = parse_line(line)
            if isinstance(parsed, PolicyRule):
                self._rule_lines[parsed.key] = line
                subjects.add(parsed.sub)
                domains.add(parsed.dom)
            elif parsed is not None:
                subjects.add(parsed[0])
                domains.add(parsed[2])
        self.subjects = sorted(s for s in subjects if s.startswith((PERSON, SERVICE)))
        self.domains = sorted(domains - {ANY_DOMAIN})

    def accesses(self, scope: AccessScope | None = None) -> list[Access]:
        found: list[Access] = []
        for subject in self.subjects:
            found.extend(self.accesses_of(subject, scope or AccessScope()))
        return found

    def accesses_of(self, subject: str, scope: AccessScope) -> list[Access]:
        """The allow rules ``subject`` reaches in each domain that ``scope`` covers, minus those
        an unconditional deny it also reaches takes away (conditional denies are noted)."""
        roles = self._account_roles.get(subject, ())
        starts = [(subject, None), *((f"role:{role}", role) for role in roles)]
        accesses: dict[tuple[str, tuple[str, ...]], Access] = {}
        for domain in self.domains:
            allows: list[tuple[PolicyRule, str, str | None]] = []
            denies: list[PolicyRule] = []
            for start, account_role in starts:
                for values in self._enforcer.get_implicit_permissions_for_user(
                    start, domain, filter_policy_dom=False
                ):
                    rule = _rule(values)
                    if rule.dom not in (domain, ANY_DOMAIN) or not scope.covers(rule):
                        continue
                    if rule.sub != start and not self._reaches(start, rule.sub, domain):
                        continue  # pycasbin's listing has no depth limit; its matcher has
                    if rule.deny:
                        denies.append(rule)
                    else:
                        allows.append((rule, start, account_role))
            exact = scope.object is not None and scope.action is not None
            if exact and any(not deny.cond for deny in denies):
                continue
            for rule, start, account_role in allows:
                # a rule of the subject's own or of an account role holds in every domain it
                # names; one reached through a policy link only in the link's domain
                via_link = rule.sub != start
                where = domain if via_link or rule.dom != ANY_DOMAIN else ANY_DOMAIN
                key = (where, rule.key)
                access = accesses.get(key)
                if access is None:
                    access = accesses[key] = Access(
                        subject, where, rule, self._rule_lines[rule.key]
                    )
                self._explain(access, subject, start, account_role, domain)
                for deny in denies:
                    if deny.cond:
                        _add(access.denied_when, deny.cond)
        return sorted(accesses.values(), key=lambda a: (a.domain, a.rule.obj, a.rule.act))

    def _reaches(self, start: str, role: str, domain: str) -> bool:
        return bool(self._enforcer.get_role_manager().has_link(start, role, domain))

    def _explain(
        self, access: Access, subject: str, start: str, account_role: str | None, domain: str
    ) -> None:
        """The ways ``start`` reaches the rule, and what to remove to take each away."""
        target = access.rule.sub
        if account_role is not None:
            _add(access.paths, f"account role {account_role}")
            _add(access.revoke_account_roles, account_role)
            return
        if target == subject:
            _add(access.paths, "direct")
            _add(access.revoke_lines, access.rule_line)
            return
        for role in sorted(self._enforcer.get_roles_for_user_in_domain(subject, domain)):
            if role == target or self._reaches(role, target, domain):
                _add(access.paths, role if role == target else f"{role} > {target}")
                _add(access.revoke_lines, f"g, {subject}, {role}, {domain}")

    def acts_as(self, subjects: Iterable[str], domain: str = DEFAULT_DOMAIN) -> set[str]:
        """``subjects`` and every role they reach in ``domain`` (who a caller may act as)."""
        reached = set(subjects)
        for subject in list(reached):
            reached.update(self._enforcer.get_implicit_roles_for_user(subject, domain))
        return reached
