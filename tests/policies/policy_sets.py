"""Seeded synthetic policy sets and requests for the differential test and the benchmark.

Role hierarchies several levels deep (plus cycles and one chain past pycasbin's hierarchy limit),
several domains and a '*' domain, keyMatch2 patterns (':param', '/*', literals, a few regex-ish
ones), action sets, deny rules and conditions. Requests are half aimed at a rule, half random.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from policies.enforcer import DecisionContext

TENANTS = (
    "acme",
    "globex",
    "initech",
    "umbrella",
    "hooli",
    "stark",
    "wayne",
    "wonka",
    "tyrell",
    "soylent",
)
DOMAINS = tuple(f"{tenant}/{env}" for tenant in TENANTS for env in ("prod", "staging"))
ACTIONS = ("read", "write", "delete", "list", "approve", "export", "rotate", "detokenize")
CONDITIONS = (
    "mfa",
    "!mfa",
    "auth_age<=300",
    "zone=internal",
    "zone!=public",
    "client=checkout|orders",
    "hours=08:00-18:00",
    "days=mon-fri",
    "mfa & zone=internal|office",
    "amr=hwk",
    "hours=22:00-06:00 & client!=crm",
)
ZONES = ("internal", "office", "public", None)
CLIENTS = ("checkout", "orders", "crm", "cart", None)
CHAIN_LENGTH = 12  # longer than pycasbin's 10-level role hierarchy
EPOCH = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday


@dataclass(frozen=True)
class PolicySet:
    lines: list[str]
    rule_count: int
    users_by_role: dict[tuple[str, str], list[str]]  # (domain, role) -> users reaching it
    rules: list[tuple[str, str, str, str, str, str]]


Request = tuple[str, str, str, str, DecisionContext]


def _pattern(rng: random.Random, resources: list[str]) -> str:
    res = rng.choice(resources)
    sub = rng.choice(("items", "notes", "refunds", "keys"))
    roll = rng.random()
    if roll < 0.25:
        return f"/v1/{res}/:id"
    if roll < 0.40:
        return f"/v1/{res}/:id/{sub}"
    if roll < 0.52:
        return f"/v1/{res}/*"
    if roll < 0.62:
        return f"/v1/{res}"
    if roll < 0.72:
        return f"/v1/tenants/:tenant/{res}/:id"
    if roll < 0.80:
        return f"/v1/{res}/:id/{sub}/*"
    if roll < 0.90:
        return f"/v1/{res}/{rng.randrange(50)}"
    if roll < 0.93:
        return f"/v1/{res}/:id.json"
    if roll < 0.95:
        return f"/v1/{res}/*/{sub}"
    if roll < 0.97:
        return f"/v1/{res}/:id/"
    if roll < 0.985:
        return f"/v1/{res}*"
    return "*" if rng.random() < 0.3 else "/*"


def _instance(rng: random.Random, pattern: str) -> str:
    """A path the pattern matches (mostly; regex-ish patterns may not, which is fine)."""
    if pattern == "*":
        return rng.choice(("/v1/anything", "", "x"))
    parts = []
    for part in pattern.split("/"):
        if part.startswith(":"):
            suffix = part[part.find(".") :] if "." in part else ""
            parts.append(f"v{rng.randrange(1000)}{suffix}")
        elif part == "*":
            parts.append(rng.choice(("", "x", "x/y/z", f"{rng.randrange(99)}")))
        elif part.endswith("*"):
            parts.append(part[:-1] + rng.choice(("", "s", "ss")))
        else:
            parts.append(part)
    return "/".join(parts)


def _random_path(rng: random.Random, resources: list[str]) -> str:
    res = rng.choice(resources)
    return rng.choice(
        (
            f"/v1/{res}/{rng.randrange(60)}",
            f"/v1/{res}",
            f"/v1/{res}/",
            f"/v1/{res}/{rng.randrange(60)}/items",
            f"/v1/{res}/{rng.randrange(60)}/notes/x/y",
            f"/v1/tenants/t{rng.randrange(9)}/{res}/{rng.randrange(60)}",
            f"/v1/{res}/{rng.randrange(60)}.json",
            f"/v1/{res}//items",
            f"/v1/{res}/{rng.randrange(60)}\n",
            f"/v2/{res}",
            "",
            "/",
            "v1",
        )
    )


def generate_policy_set(rule_count: int, *, seed: int = 7) -> PolicySet:
    rng = random.Random(seed)
    resources = [f"res{k}" for k in range(max(20, rule_count // 40))]
    # Roles and users grow like the square root of the rules: a big policy has more rules per role.
    width = max(6, math.isqrt(rule_count))
    role_levels = [[f"r{level}-{k}" for k in range(width // (level + 1))] for level in range(4)]
    roles = (
        [role for level in role_levels for role in level]
        + [f"chain-{k}" for k in range(CHAIN_LENGTH)]
        + [f"cycle-{k}" for k in range(3)]
    )
    users = [f"user-{k}" for k in range(width)]
    links: set[tuple[str, str, str]] = set()
    for domain in DOMAINS:
        for level in range(3):  # each role inherits one or two roles of the level above
            for role in role_levels[level]:
                for parent in rng.sample(role_levels[level + 1], rng.choice((1, 1, 2))):
                    links.add((role, parent, domain))
        for k in range(3):  # a cycle must neither loop nor change answers
            links.add((f"cycle-{k}", f"cycle-{(k + 1) % 3}", domain))
        links.add((rng.choice(role_levels[0]), "cycle-0", domain))
        for user in rng.sample(users, len(users) // 2):
            for role in rng.sample(role_levels[0] + role_levels[1], rng.choice((1, 2, 3))):
                links.add((user, role, domain))
    for k in range(CHAIN_LENGTH - 1):
        links.add((f"chain-{k}", f"chain-{k + 1}", DOMAINS[0]))
    links.add((users[0], "chain-0", DOMAINS[0]))

    rules: list[tuple[str, str, str, str, str, str]] = []
    seen: set[tuple[str, ...]] = set()
    while len(rules) < rule_count:
        sub = rng.choice(users) if rng.random() < 0.15 else rng.choice(roles)
        dom = "*" if rng.random() < 0.01 else rng.choice(DOMAINS)
        roll = rng.random()
        if roll < 0.7:
            act = rng.choice(ACTIONS)
        elif roll < 0.9:
            act = "|".join(rng.sample(ACTIONS, rng.choice((2, 3))))
        else:
            act = "*"
        eft = "deny" if rng.random() < 0.1 else "allow"
        cond = rng.choice(CONDITIONS) if rng.random() < 0.35 else ""
        rule = (sub, dom, _pattern(rng, resources), act, eft, cond)
        if rule not in seen:
            seen.add(rule)
            rules.append(rule)
    lines = [f"p, {', '.join(rule)}" for rule in rules]
    lines += [f"g, {user}, {role}, {domain}" for user, role, domain in sorted(links)]
    return PolicySet(lines, rule_count, _users_by_role(links), rules)


def _users_by_role(links: set[tuple[str, str, str]]) -> dict[tuple[str, str], list[str]]:
    """Who reaches each role (any distance: the limit is the enforcers' business, not ours)."""
    parents: dict[tuple[str, str], set[str]] = defaultdict(set)
    for user, role, domain in links:
        parents[(domain, user)].add(role)
    reached: dict[tuple[str, str], list[str]] = defaultdict(list)
    for (domain, user), direct in parents.items():
        seen, frontier = set(direct), list(direct)
        while frontier:
            role = frontier.pop()
            reached[(domain, role)].append(user)
            for parent in parents.get((domain, role), ()):
                if parent not in seen:
                    seen.add(parent)
                    frontier.append(parent)
    return {key: sorted(value) for key, value in reached.items()}


def random_context(rng: random.Random) -> DecisionContext:
    now = EPOCH + timedelta(minutes=rng.randrange(7 * 24 * 60))
    age = rng.choice((5, 200, 299, 301, 900, -30, -120))
    return DecisionContext(
        now=now.timestamp(),
        amr=frozenset(rng.sample(("pwd", "mfa", "otp", "hwk"), rng.randrange(4))),
        auth_time=(now - timedelta(seconds=age)).timestamp() if rng.random() < 0.9 else None,
        zone=rng.choice(ZONES),
        client_id=rng.choice(CLIENTS),
    )


def generate_requests(policy: PolicySet, count: int, *, seed: int = 11) -> list[Request]:
    """Half aimed at a random rule (a user who holds its role, a path it matches), half random."""
    rng = random.Random(seed)
    resources = sorted({rule[2].split("/")[2] for rule in policy.rules if rule[2].count("/") > 1})
    subjects = sorted({user for users in policy.users_by_role.values() for user in users})
    requests: list[Request] = []
    for index in range(count):
        ctx = random_context(rng)
        if index % 2 == 0:
            sub, dom, pattern, act, _eft, _cond = rng.choice(policy.rules)
            dom = rng.choice(DOMAINS) if dom == "*" else dom
            holders = policy.users_by_role.get((dom, sub))
            sub = rng.choice(holders) if holders and rng.random() < 0.8 else sub
            act = rng.choice(ACTIONS) if act == "*" else rng.choice(act.split("|"))
            requests.append((sub, dom, _instance(rng, pattern), act, ctx))
        else:
            requests.append(
                (
                    rng.choice(subjects),
                    rng.choice((*DOMAINS, "*", "unknown")),
                    _random_path(rng, resources),
                    rng.choice((*ACTIONS, "*", "read|list")),
                    ctx,
                )
            )
    return requests
