"""The built-in passive engine against real local shops: every planted issue is reported, the
hardened shop shows nothing of medium risk or above, scope and limits hold, the SSRF guard
refuses loopback unless private networks are allowed, and card numbers never leave unmasked."""

from __future__ import annotations

import pytest

from core.sensitive import contains_card_number
from scanners.engines import get_engine
from scanners.engines.base import Limits, Observation, Progress, ScanRequest, Scope
from scanners.exceptions import TargetInvalid, TargetRefused
from scanners.normalise import fingerprint, normalise, url_template
from scanners.rules import RULES, risk_rank
from tests.scanners.shops import CARD, PLANTED

LIMITS = Limits(max_pages=50, max_depth=5, max_seconds=30, request_timeout=5,
                max_response_bytes=1 << 20)  # fmt: skip


def _scan(url: str, **changes: object) -> tuple[list[Observation], list[Progress]]:
    request = ScanRequest(target="shop", scope=Scope(url + "/"), limits=LIMITS, allow_private=True)
    for name, value in changes.items():
        object.__setattr__(request, name, value)
    events = list(get_engine("builtin").scan(request))
    return (
        [e for e in events if isinstance(e, Observation)],
        [e for e in events if isinstance(e, Progress)],
    )


def test_every_planted_issue_of_the_weak_shop_is_reported(weak_scan_shop: str) -> None:
    observations, progress = _scan(weak_scan_shop)
    assert {o.rule for o in observations} >= PLANTED
    # home, two orders, the listing and its (missing) backup.sql, the cart, the search and the
    # product page; not the other site
    assert progress[-1].done == 8
    sri = next(o for o in observations if o.rule == "sri-missing")
    assert sri.parameter == "https://cdn.example.com/widget.js"


def test_the_hardened_shop_has_nothing_of_medium_risk_or_above(hardened_shop: str) -> None:
    observations, progress = _scan(hardened_shop)
    serious = [
        o.rule
        for o in observations
        if risk_rank(o.risk or RULES[o.rule].risk) >= risk_rank("medium")
    ]
    assert serious == []
    assert progress[-1].done == 2  # home and the order; scripts are resources, not pages


def test_card_numbers_are_masked_in_every_stored_field(weak_scan_shop: str) -> None:
    observations, _ = _scan(weak_scan_shop)
    card = [o for o in observations if o.rule == "card-number-disclosure"]
    assert len(card) == 2
    assert any(CARD in o.evidence for o in card)  # the raw observation holds it ...
    for observation in observations:
        stored = normalise("t", observation)
        for text in (stored.evidence, stored.url, stored.url_template, stored.parameter):
            assert not contains_card_number(text)  # ... the stored finding never does
    masked = normalise("t", card[0]).evidence
    assert "************1111" in masked


def test_the_orders_share_one_url_template_and_so_one_fingerprint(weak_scan_shop: str) -> None:
    observations, _ = _scan(weak_scan_shop)
    card = [normalise("t", o) for o in observations if o.rule == "card-number-disclosure"]
    assert {c.url_template for c in card} == {weak_scan_shop + "/orders/{id}"}
    assert len({c.fingerprint for c in card}) == 1


def test_exclude_patterns_and_the_page_limit_bound_the_crawl(weak_scan_shop: str) -> None:
    scope = Scope(weak_scan_shop + "/", exclude=(r".*/orders/.*",))
    observations, progress = _scan(weak_scan_shop, scope=scope)
    assert "card-number-disclosure" not in {o.rule for o in observations}
    assert progress[-1].done == 6  # 8 pages less the two orders
    limited = Limits(max_pages=2, max_depth=5, max_seconds=30, request_timeout=5,
                     max_response_bytes=1 << 20)  # fmt: skip
    _, progress = _scan(weak_scan_shop, limits=limited)
    assert progress[-1].done == 2
    shallow = Limits(max_pages=50, max_depth=0, max_seconds=30, request_timeout=5,
                     max_response_bytes=1 << 20)  # fmt: skip
    _, progress = _scan(weak_scan_shop, limits=shallow)
    assert progress[-1].done == 1


def test_loopback_targets_are_refused_unless_private_networks_are_allowed(
    weak_scan_shop: str,
) -> None:
    with pytest.raises(TargetRefused, match=r"loopback.*RAMPART_SCAN_ALLOW_PRIVATE_NETWORKS"):
        _scan(weak_scan_shop, allow_private=False)


def test_metadata_addresses_stay_refused_even_with_private_networks_allowed() -> None:
    with pytest.raises(TargetRefused, match="link-local"):
        _scan("http://169.254.169.254")


def test_url_templates_and_fingerprints() -> None:
    assert (
        url_template("http://Shop:8080/o/123/items/3f2b8c1e-1d2a-4c3b-9e8f-0a1b2c3d4e5f?b=2&a=x")
        == "http://shop:8080/o/{id}/items/{id}?a={value}&b={value}"
    )
    assert fingerprint("t", "csp-missing", "/", "", "get") == fingerprint(
        "t", "csp-missing", "/", "", "GET"
    )
    assert fingerprint("t", "csp-missing", "/", "", "GET") != fingerprint(
        "u", "csp-missing", "/", "", "GET"
    )


def test_an_unknown_engine_is_a_clear_error() -> None:
    with pytest.raises(TargetInvalid, match="unknown engine 'nessus'"):
        get_engine("nessus")
