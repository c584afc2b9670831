"""Token-service probes: signing algorithms and keys as published, client authentication."""

from __future__ import annotations

from tests.compliance.checks.conftest import ContextFactory, run


def test_token_probes_pass_on_rampart(live_context: ContextFactory) -> None:
    signing = run("iam.token_signing_probe", live_context())
    assert signing.status == "pass", signing
    assert signing.observed["published_keys"] >= 1
    assert "none" not in signing.observed["advertised_algorithms"]
    authentication = run("iam.client_authentication_probe", live_context())
    assert authentication.status == "pass", authentication


def test_token_probes_fail_on_symmetric_keys_and_unauthenticated_clients(
    live_context: ContextFactory, weak_shop: str
) -> None:
    signing = run("iam.token_signing_probe", live_context(url=weak_shop))
    assert signing.status == "fail"
    assert signing.observed["key_problems"] == ["shared: private key material published"]
    authentication = run("iam.client_authentication_probe", live_context(url=weak_shop))
    assert authentication.status == "fail"
    assert authentication.observed["answers"]["unknown_client"] == 200
