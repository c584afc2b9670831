"""The indexed enforcer decides exactly like pycasbin's Enforcer: 101,066 random requests.

Counts per generated policy set (rules; requests checked against pycasbin):
  1,000 rules: 93,500 requests on domain slices + 500 on the full policy
 10,000 rules:  6,000 requests on domain slices +  60 on the full policy
100,000 rules:  1,000 requests on domain slices +   6 on the full policy
Total 101,066 (pycasbin's side costs ~140 s of CPU, run on two processes). Half of the requests
are aimed at a rule, so allows are well represented.

pycasbin scans every rule (4 ms per decision at 1k rules with this model, 0.4 s at 100k), so the
bulk of the reference runs on *domain slices*: for a request in domain d, pycasbin is given every
``g`` line and only the ``p`` rules of domain d or '*'. The matcher's first conjunct is
``(p.dom == r.dom || p.dom == "*")``, so the rules left out contribute nothing to pycasbin's answer
(nor to its explain order); the full-policy requests check that too. The indexed enforcer always
holds the *full* policy, so a rule it wrongly matched across domains would still show as a
difference. Slices are evaluated in a pool of two processes.
"""

from __future__ import annotations

import multiprocessing
from collections import defaultdict
from functools import cache
from typing import Any

import pytest

from policies.enforcer import IndexedEnforcer, new_casbin_enforcer
from tests.policies.policy_sets import PolicySet, Request, generate_policy_set, generate_requests

PLAN = {  # rules: (requests on domain slices, requests on the full policy)
    1_000: (93_500, 500),
    10_000: (6_000, 60),
    100_000: (1_000, 6),
}
CHUNK = 500

Verdict = tuple[bool, list[str]]


@cache
def _policy(size: int) -> PolicySet:
    return generate_policy_set(size, seed=size)


@cache
def _requests(size: int) -> list[Request]:
    sliced, full = PLAN[size]
    return generate_requests(_policy(size), sliced + full, seed=size + 1)


@cache
def _slice_enforcer(size: int, domain: str) -> Any:
    policy = _policy(size)
    lines = [
        line
        for line, rule in zip(policy.lines, policy.rules, strict=False)
        if rule[1] in (domain, "*")
    ]
    return new_casbin_enforcer(lines + policy.lines[len(policy.rules) :])


def _reference_chunk(task: tuple[int, str, list[int]]) -> list[tuple[int, Verdict]]:
    size, domain, indexes = task
    enforcer = _slice_enforcer(size, domain)
    requests = _requests(size)
    verdicts = []
    for index in indexes:
        allowed, explain = enforcer.enforce_ex(*requests[index])
        verdicts.append((index, (bool(allowed), list(explain))))
    return verdicts


def _sliced_reference(size: int) -> dict[int, Verdict]:
    requests = _requests(size)
    by_domain: dict[str, list[int]] = defaultdict(list)
    for index in range(PLAN[size][0]):
        by_domain[requests[index][1]].append(index)
    tasks = [
        (size, domain, indexes[start : start + CHUNK])
        for domain, indexes in sorted(by_domain.items())
        for start in range(0, len(indexes), CHUNK)
    ]
    verdicts: dict[int, Verdict] = {}
    with multiprocessing.get_context("fork").Pool(2) as pool:
        for chunk in pool.imap_unordered(_reference_chunk, tasks):
            verdicts.update(chunk)
    return verdicts


def _assert_same(enforcer: IndexedEnforcer, request: Request, verdict: Verdict) -> None:
    decision = enforcer.decide(*request)
    allowed, explain = verdict
    assert decision.allowed == allowed, (request[:4], decision, verdict)
    if explain:  # pycasbin names the rule only when a deny rule decided
        assert decision.rule is not None and list(decision.rule.key) == explain, request[:4]


@pytest.mark.slow
@pytest.mark.parametrize("size", sorted(PLAN))
def test_indexed_enforcer_equals_pycasbin(size: int) -> None:
    policy = _policy(size)
    requests = _requests(size)
    enforcer = IndexedEnforcer(policy.lines)
    assert len(enforcer) == size

    reference = _sliced_reference(size)
    assert len(reference) == PLAN[size][0]
    for index, verdict in reference.items():
        _assert_same(enforcer, requests[index], verdict)

    full = new_casbin_enforcer(policy.lines)
    for request in requests[PLAN[size][0] :]:
        allowed, explain = full.enforce_ex(*request)
        _assert_same(enforcer, request, (bool(allowed), list(explain)))

    allowed_share = sum(verdict[0] for verdict in reference.values()) / len(reference)
    denied_by_rule = sum(bool(verdict[1]) for verdict in reference.values()) / len(reference)
    assert 0.2 < allowed_share < 0.8, allowed_share
    assert denied_by_rule > 0.01, denied_by_rule
