"""Zero-trust probes against the real server (and the weak stand-in), and the policy reads."""

from __future__ import annotations

from core.database import unit_of_work
from iam.oauth2.service import list_clients
from policies import service as policies
from tests.compliance.checks.conftest import ContextFactory, run


def _set_policy(lines: list[str]) -> None:
    with unit_of_work() as db:
        policies.apply_policy(db, lines, actor="test", reason="test set-up")


def _policy() -> list[str]:
    with unit_of_work(read_only=True) as db:
        return list(policies.snapshot(db).lines)


def test_zero_trust_probes_pass_on_rampart_and_leave_no_client_or_rule(
    live_context: ContextFactory,
) -> None:
    before = _policy()
    unauthenticated = run("authz.unauthenticated_probe", live_context())
    assert unauthenticated.status == "pass", unauthenticated
    assert unauthenticated.observed["routes_probed"] > 10
    deny = run("authz.default_deny_probe", live_context())
    assert deny.status == "pass", deny
    assert _policy() == before
    with unit_of_work(read_only=True) as db:
        assert [c.client_id for c in list_clients(db)] == []


def test_zero_trust_probes_fail_on_a_shop_that_answers_without_a_token(
    live_context: ContextFactory, weak_shop: str
) -> None:
    unauthenticated = run("authz.unauthenticated_probe", live_context(url=weak_shop))
    assert unauthenticated.status == "fail"
    assert "GET /v1/open -> 200" in unauthenticated.observed["answered_without_token"]
    deny = run("authz.default_deny_probe", live_context(url=weak_shop))
    assert deny.status == "fail"


def test_policy_reads_pass_on_the_default_policy_and_fail_once_weakened(
    read_context: ContextFactory,
) -> None:
    with unit_of_work() as db:
        policies.ensure_default_policy(db)
    assert run("authz.no_wildcard_card_access", read_context()).status == "pass"
    assert run("authz.admin_separation_of_duties", read_context()).status == "pass"
    default = _policy()
    _set_policy([*default, "p, role:service, rampart, vault/pan, detokenize, allow,"])
    broad = run("authz.no_wildcard_card_access", read_context())
    assert broad.status == "fail"
    assert broad.observed["broad_rules"] == [
        "p, role:service, rampart, vault/pan, detokenize, allow,"
    ]
    pan_denial = "vault/pan, detokenize|reveal|fingerprint, deny"
    _set_policy([line for line in default if pan_denial not in line])
    separation = run("authz.admin_separation_of_duties", read_context())
    assert separation.status == "fail"
    assert separation.observed == {"missing_denials": ["vault/pan"]}
