"""Small random policies (hypothesis) and random deltas: always pycasbin's decision."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.enforcer import IndexedEnforcer, new_casbin_enforcer
from tests.policies.policy_sets import generate_policy_set, generate_requests
from tests.policies.test_enforcer import CTX, PATHS, PATTERNS

SUBJECTS = ("u1", "u2", "r1", "r2", "r3")
DOMAINS = ("d1", "d2", "*")
ACTS = ("read", "write", "read|write", "*")
CONDS = ("", "mfa", "!mfa", "hours=22:00-06:00")

rules = st.tuples(
    st.sampled_from(SUBJECTS),
    st.sampled_from(DOMAINS),
    st.sampled_from(PATTERNS),
    st.sampled_from(ACTS),
    st.sampled_from(("allow", "allow", "deny")),
    st.sampled_from(CONDS),
)
links = st.tuples(st.sampled_from(SUBJECTS), st.sampled_from(SUBJECTS), st.sampled_from(DOMAINS))
requests = st.tuples(
    st.sampled_from(SUBJECTS),
    st.sampled_from((*DOMAINS, "d3")),
    st.sampled_from(PATHS),
    st.sampled_from(("read", "write", "*", "delete")),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(rules, max_size=12, unique=True),
    st.lists(links, max_size=6, unique=True),
    st.lists(requests, min_size=1, max_size=20),
)
def test_small_policies_decide_like_pycasbin(
    policy: list[tuple[str, ...]],
    grouping: list[tuple[str, ...]],
    asked: list[tuple[str, str, str, str]],
) -> None:
    lines = [f"p, {', '.join(rule)}" for rule in policy]
    lines += [f"g, {', '.join(link)}" for link in grouping]
    mine, reference = IndexedEnforcer(lines), new_casbin_enforcer(lines)
    for request in asked:
        sub, dom, obj, act = request
        allowed, explain = reference.enforce_ex(sub, dom, obj, act, CTX)
        decision = mine.decide(sub, dom, obj, act, CTX)
        assert decision.allowed == allowed, (lines, request)
        if explain:
            assert decision.rule is not None and list(decision.rule.key) == explain


def test_deltas_keep_decisions_equal_to_pycasbin() -> None:
    """200 random adds and removes of rules and links, applied to both, 15 requests after each."""
    rng = random.Random(5)
    base = generate_policy_set(300, seed=3)
    spare = generate_policy_set(300, seed=4)
    mine, reference = IndexedEnforcer(base.lines), new_casbin_enforcer(base.lines)
    asked = generate_requests(base, 3000, seed=9)
    live_rules = list(base.rules)
    live_links: list[tuple[str, ...]] = [
        tuple(line[3:].split(", ")) for line in base.lines if line.startswith("g, ")
    ]
    for step in range(200):
        roll = rng.random()
        if roll < 0.3:
            rule = rng.choice(spare.rules)
            assert mine.add_policy(*rule) == reference.add_policy(*rule)
            live_rules.append(rule)
        elif roll < 0.6 and live_rules:
            rule = live_rules.pop(rng.randrange(len(live_rules)))
            assert mine.remove_policy(*rule) == reference.remove_policy(*rule)
        elif roll < 0.8:
            link: tuple[str, ...] = (
                rng.choice(base.users_by_role[("acme/prod", "r1-0")]),
                rng.choice([f"r{level}-{k}" for level in range(4) for k in range(3)]),
                rng.choice(("acme/prod", "globex/prod")),
            )
            assert mine.add_grouping(*link) == reference.add_grouping_policy(*link)
            live_links.append(link)
        elif live_links:
            link = live_links.pop(rng.randrange(len(live_links)))
            assert mine.remove_grouping(*link) == reference.remove_grouping_policy(*link)
        for request in asked[step * 15 : (step + 1) * 15]:
            assert mine.enforce(*request) == reference.enforce(*request), (step, request[:4])
    assert mine.version > 100
