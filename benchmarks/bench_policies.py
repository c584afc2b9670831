"""Authorization decisions: Rampart's indexed enforcer vs pycasbin's Enforcer, same model and rules.

Generated policy sets of 1k, 10k and 100k rules (role hierarchies, 20 domains, keyMatch2 patterns,
deny rules, conditions; tests/policies/policy_sets.py), the same random requests for both, timed
one decision at a time in-process; then the memory each holds at 100k rules (tracemalloc).
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks.harness import Figure, Size, median, percentile
from policies.enforcer import IndexedEnforcer, new_casbin_enforcer
from tests.policies.policy_sets import (
    DOMAINS,
    PolicySet,
    Request,
    generate_policy_set,
    generate_requests,
)

SIZES = (1_000, 10_000, 100_000)
ANCHOR = "pycasbin Enforcer"
# pycasbin scans every rule (~0.4 s per decision at 100k here), so it gets fewer samples.
CASBIN_SAMPLES = {1_000: 400, 10_000: 80, 100_000: 16}
INDEXED_SAMPLES = 20_000


def _latencies(
    decide: Callable[..., Any], requests: Sequence[Request]
) -> tuple[list[float], list[bool]]:
    samples, answers = [], []
    clock = time.perf_counter
    for request in requests:
        start = clock()
        answer = decide(*request)
        samples.append(clock() - start)
        answers.append(bool(answer))
    return samples, answers


def _warm_casbin(enforcer: Any, requests: Sequence[Request]) -> None:
    """pycasbin builds each domain's role manager on first use; keep that out of its timings."""
    seen: set[str] = set()
    for request in requests:
        if request[1] not in seen:
            seen.add(request[1])
            enforcer.enforce(*request)


def _decision_figures(rules: int, policy: PolicySet, size: Size) -> list[Figure]:
    count = INDEXED_SAMPLES // size.pick(1, 4, 100)
    requests = generate_requests(policy, count, seed=rules + 1)
    indexed = IndexedEnforcer(policy.lines)
    indexed_cold, _ = _latencies(indexed.enforce, requests)  # first sight of users: closures
    indexed_times, indexed_answers = _latencies(indexed.enforce, requests)
    casbin = new_casbin_enforcer(policy.lines)
    casbin_requests = requests[: CASBIN_SAMPLES[rules] // size.pick(1, 4, 16)]
    _warm_casbin(casbin, casbin_requests)
    casbin_times, casbin_answers = _latencies(casbin.enforce, casbin_requests)
    mismatches = sum(a != b for a, b in zip(indexed_answers, casbin_answers, strict=False))
    label = f"{rules // 1000}k"
    notes = {
        "rules": rules,
        "indexed_samples": len(indexed_times),
        "casbin_samples": len(casbin_times),
        "indexed_cold_median_us": median(indexed_cold) * 1e6,
        "allowed_share": sum(indexed_answers) / len(indexed_answers),
        "mismatches_vs_casbin": mismatches,
    }
    return [
        Figure(
            name=f"policies.decision_median_us.{label}",
            value=median(indexed_times) * 1e6,
            unit="µs/decision",
            anchor=ANCHOR,
            anchor_value=median(casbin_times) * 1e6,
            higher_is_better=False,
            target="<= 10 µs at 10k rules, >= 1000x pycasbin, flat to 100k",
            notes=notes,
        ),
        Figure(
            name=f"policies.decision_p99_us.{label}",
            value=percentile(indexed_times, 99) * 1e6,
            unit="µs/decision",
            anchor=ANCHOR,
            anchor_value=percentile(casbin_times, 99) * 1e6,
            higher_is_better=False,
            notes={"rules": rules},
        ),
    ]


def _held_bytes(build: Callable[[], Any]) -> tuple[int, Any]:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    built = build()
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return held, built


def _memory_figure(policy: PolicySet) -> Figure:
    ctx = generate_requests(policy, 1)[0][4]
    probes = [("u", domain, "/v1/x", "read", ctx) for domain in DOMAINS]

    def indexed() -> Any:
        enforcer = IndexedEnforcer(policy.lines)
        for user in sorted({u for users in policy.users_by_role.values() for u in users}):
            for domain in DOMAINS:  # every closure cached: the most it ever holds
                enforcer.enforce(user, domain, "/v1/x", "read", ctx)
        return enforcer

    def casbin() -> Any:
        enforcer = new_casbin_enforcer(policy.lines)
        _warm_casbin(enforcer, probes)  # its per-domain role managers, built on first use
        return enforcer

    indexed_bytes, kept_indexed = _held_bytes(indexed)
    casbin_bytes, kept_casbin = _held_bytes(casbin)
    del kept_indexed, kept_casbin
    return Figure(
        name=f"policies.memory_mb.{policy.rule_count // 1000}k",
        value=indexed_bytes / 2**20,
        unit="MB held",
        anchor=ANCHOR,
        anchor_value=casbin_bytes / 2**20,
        higher_is_better=False,
        target="no more than pycasbin for the same policies",
        notes={"rules": policy.rule_count, "lines": len(policy.lines), "measure": "tracemalloc"},
    )


def run(size: Size) -> list[Figure]:
    figures: list[Figure] = []
    sizes = size.pick(SIZES, SIZES, SIZES[:1])
    policies = {rules: generate_policy_set(rules, seed=rules) for rules in sizes}
    for rules in sizes:
        figures.extend(_decision_figures(rules, policies[rules], size))
    figures.append(_memory_figure(policies[sizes[-1]]))
    return figures
