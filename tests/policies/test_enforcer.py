"""Edge cases of the indexed enforcer, each checked against pycasbin's Enforcer on equal lines."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from casbin.util.builtin_operators import key_match2

from policies.enforcer import (
    DecisionContext,
    IndexedEnforcer,
    PolicyInvalid,
    new_casbin_enforcer,
)

CTX = DecisionContext.build(now=datetime(2025, 3, 3, 10, 0, tzinfo=UTC), amr=["pwd", "mfa"])

PATTERNS = [
    "/a/*", "/a/:id", "*", "/*", "", "/", "/a/:id/", "/a*", "/a/*/b", "/:a:b", "/:", "/a.b",
    "/a/:id/*", "a/*", "/a/x:y", "/a/b", "/a/:id.json", "/a/:x/:y", "/a/:id/c",
]  # fmt: skip
PATHS = [
    "/a", "/a/", "/a/b", "/a/b/c", "/ab", "/a.b", "/axb", "", "/", "/a/b\n", "/a\n", "\n",
    "/a/\n", "/a/b\nc", "a/b", "/a//", "//", "/a/b/", "/a/x/b", "/a/x\n/b", "/a/b\n\n", "/aaa",
    "/a/b.json", "/a/:id", "/x/y",
]  # fmt: skip


def _both(lines: list[str]) -> tuple[IndexedEnforcer, Any]:
    return IndexedEnforcer(lines), new_casbin_enforcer(lines)


def _same(lines: list[str], *request: Any) -> bool:
    mine, reference = _both(lines)
    expected = reference.enforce(*request)
    assert mine.enforce(*request) == expected, request
    return bool(expected)


def test_empty_policy_denies_everything() -> None:
    assert _same([], "alice", "shop", "/v1/x", "read", CTX) is False
    assert _same([], "", "", "", "", CTX) is False


def test_unknown_domain_denies() -> None:
    lines = ["p, admin, shop, /v1/*, read, allow, ", "g, alice, admin, shop"]
    assert _same(lines, "alice", "shop", "/v1/x", "read", CTX) is True
    assert _same(lines, "alice", "other", "/v1/x", "read", CTX) is False
    assert _same(lines, "alice", "*", "/v1/x", "read", CTX) is False


def test_star_domain_rule_applies_in_every_domain_with_that_domains_roles() -> None:
    lines = ["p, auditor, *, /v1/audit/*, read, allow, ", "g, bob, auditor, shop"]
    assert _same(lines, "bob", "shop", "/v1/audit/1", "read", CTX) is True
    assert _same(lines, "bob", "blog", "/v1/audit/1", "read", CTX) is False
    assert _same(lines, "auditor", "blog", "/v1/audit/1", "read", CTX) is True


def test_role_cycle_terminates_and_reaches_every_member() -> None:
    lines = [
        "p, c, shop, /x, read, allow, ",
        "g, a, b, shop",
        "g, b, c, shop",
        "g, c, a, shop",
    ]
    for subject in ("a", "b", "c"):
        assert _same(lines, subject, "shop", "/x", "read", CTX) is True
    assert _same(lines, "d", "shop", "/x", "read", CTX) is False


@pytest.mark.parametrize("hops", [8, 9, 10, 11])
def test_role_hierarchy_limit_is_pycasbins(hops: int) -> None:
    lines = [f"g, n{k}, n{k + 1}, shop" for k in range(hops)]
    lines.append(f"p, n{hops}, shop, /x, read, allow, ")
    assert _same(lines, "n0", "shop", "/x", "read", CTX) is (hops <= 9)


def test_role_links_are_per_domain() -> None:
    lines = ["p, admin, blog, /x, read, allow, ", "g, alice, admin, shop"]
    assert _same(lines, "alice", "blog", "/x", "read", CTX) is False


def test_deny_rule_wins_and_is_explained_like_pycasbin() -> None:
    lines = [
        "p, staff, shop, /v1/*, read|write, allow, ",
        "p, staff, shop, /v1/keys/:id, write, deny, !mfa",
        "p, staff, shop, /v1/keys/*, write, deny, ",
        "g, alice, staff, shop",
    ]
    mine, reference = _both(lines)
    decision = mine.decide("alice", "shop", "/v1/keys/k1", "write", CTX)
    allowed, explain = reference.enforce_ex("alice", "shop", "/v1/keys/k1", "write", CTX)
    assert (decision.allowed, allowed) == (False, False)
    assert decision.rule is not None and list(decision.rule.key) == explain
    assert explain[2] == "/v1/keys/*"  # the mfa rule's condition did not hold
    allowed_read = mine.decide("alice", "shop", "/v1/keys/k1", "read", CTX)
    assert allowed_read.allowed and allowed_read.rule is not None
    assert allowed_read.rule.obj == "/v1/*"


def test_actions_exact_alternatives_and_star() -> None:
    lines = ["p, a, d, /x, read|list, allow, ", "p, b, d, /x, *, allow, "]
    for act in ("read", "list", "write", "read|list", "*", ""):
        _same(lines, "a", "d", "/x", act, CTX)
        _same(lines, "b", "d", "/x", act, CTX)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_keymatch2_corner_cases_match_pycasbin(pattern: str) -> None:
    enforcer = IndexedEnforcer([f"p, u, d, {pattern}, read, allow, "])
    for path in PATHS:
        expected = key_match2(path, pattern)
        assert enforcer.enforce("u", "d", path, "read", CTX) == expected, (pattern, path)


@pytest.mark.parametrize(
    "line",
    [
        "p, a, d, /x, read, permit, ",  # unknown effect
        "p, a, d, /x(1), read, allow, ",  # brackets regroup pycasbin's CSV fields
        "p, a, d, /x/a**, read, allow, ",  # not a regex pycasbin can compile
        "p, a, d, /x, read|*, allow, ",  # '*' only alone
        "p, a, d, /x, read, allow, mfa & sometimes",  # unknown condition
        "p, a, d, /x, read, allow, hours=09:00-09:00",  # empty window
        "p, a, d, /x, read, allow",  # cond column missing
        "g, a, b",  # domain missing
        "q, a, b, c",
    ],
)
def test_lines_pycasbin_would_misread_are_refused(line: str) -> None:
    with pytest.raises(PolicyInvalid):
        IndexedEnforcer([line])


def test_deltas_bump_the_version_and_change_decisions() -> None:
    enforcer = IndexedEnforcer(match_cache_size=128)
    start = enforcer.version
    assert not enforcer.enforce("alice", "shop", "/v1/orders/1", "read", CTX)
    assert enforcer.add_policy("clerk", "shop", "/v1/orders/:id", "read")
    assert not enforcer.add_policy("clerk", "shop", "/v1/orders/:id", "read")
    assert enforcer.add_grouping("alice", "clerk", "shop")
    decision = enforcer.decide("alice", "shop", "/v1/orders/1", "read", CTX)
    assert decision.allowed and decision.policy_version == start + 2
    assert enforcer.add_policy("clerk", "shop", "/v1/orders/*", "read", "deny")
    assert not enforcer.enforce("alice", "shop", "/v1/orders/1", "read", CTX)
    assert enforcer.remove_policy("clerk", "shop", "/v1/orders/*", "read", "deny")
    assert enforcer.enforce("alice", "shop", "/v1/orders/1", "read", CTX)
    assert enforcer.remove_grouping("alice", "clerk", "shop")
    assert not enforcer.remove_grouping("alice", "clerk", "shop")
    assert not enforcer.remove_policy("nobody", "shop", "/x", "read")
    assert not enforcer.enforce("alice", "shop", "/v1/orders/1", "read", CTX)
    assert enforcer.version == start + 5
    assert enforcer.policy_lines() == ["p, clerk, shop, /v1/orders/:id, read, allow,"]


def test_policy_lines_round_trip_in_decision_order() -> None:
    lines = ["p, b, d, /y, read, deny,", "p, a, d, /x, read, allow, mfa", "g, u, a, d"]
    assert IndexedEnforcer(lines).policy_lines() == lines
    assert IndexedEnforcer(IndexedEnforcer(lines).policy_lines()).policy_lines() == lines
