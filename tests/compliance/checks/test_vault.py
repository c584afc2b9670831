"""Vault probes through the real API with a canary client (masked PAN, purpose required), and the
vault reads (SAD retention, deterministic card tokens, proxy over https)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from compliance.checks.base import CheckResult
from compliance.checks.canary import canary_token
from compliance.checks.vault import TOKENIZE_AND_METADATA
from core.clock import utcnow
from core.database import unit_of_work
from iam.oauth2.service import list_clients
from policies import service as policies
from tests.compliance.checks.conftest import ContextFactory, run
from vault.models import VaultToken
from vault.records import TokenizeRequest
from vault.service import tokenize

CANARY = "4111111111111111"


def _state() -> tuple[list[str], list[str], int]:
    with unit_of_work(read_only=True) as db:
        lines = list(policies.snapshot(db).lines)
        clients = [client.client_id for client in list_clients(db)]
        tokens = len(db.scalars(select(VaultToken.id)).all())
    return lines, clients, tokens


def test_vault_probes_pass_on_rampart_and_leave_nothing_behind(
    live_context: ContextFactory,
) -> None:
    before = _state()
    masked = run("vault.masked_pan_probe", live_context())
    assert masked.status == "pass", masked
    assert masked.observed["answers"]["reveal_without_permission"] == 403
    purpose = run("vault.detokenize_purpose_probe", live_context())
    assert purpose.status == "pass", purpose
    assert purpose.observed["with_purpose"] == 200
    assert CANARY not in repr(masked) + repr(purpose)
    assert _state() == before


def test_a_canary_token_and_its_client_are_removed_when_the_probe_raises(
    live_context: ContextFactory,
) -> None:
    before = _state()
    with (
        pytest.raises(RuntimeError, match="probe crashed"),
        canary_token(live_context(), TOKENIZE_AND_METADATA, "pan", CANARY) as canary,
    ):
        assert not isinstance(canary, CheckResult), canary
        assert _state() != before  # the token and the client exist inside the block
        raise RuntimeError("probe crashed")
    assert _state() == before


def test_vault_probes_fail_on_a_shop_that_echoes_card_numbers(
    live_context: ContextFactory, weak_shop: str
) -> None:
    masked = run("vault.masked_pan_probe", live_context(url=weak_shop))
    assert masked.status == "fail"
    assert masked.observed["full_pan_in"] == ["metadata", "reveal_without_permission", "tokenize"]
    purpose = run("vault.detokenize_purpose_probe", live_context(url=weak_shop))
    assert purpose.status == "fail"
    assert purpose.observed["without_purpose"] == 200


def test_sad_not_retained_passes_and_fails_with_an_expired_cvc_left_unpurged(
    read_context: ContextFactory,
) -> None:
    assert run("vault.sad_not_retained", read_context()).status == "pass"
    assert run("vault.sad_not_retained", read_context(vault_sad_ttl_seconds=7200)).status == "fail"
    with unit_of_work() as db:
        tokenize(db, tenant="shop", token_type="cvc", item=TokenizeRequest("123", ttl_seconds=60))
    later = read_context(now=utcnow() + timedelta(days=2))
    result = run("vault.sad_not_retained", later)
    assert result.status == "fail"
    assert result.observed["expired_tokens_not_purged"] == 1


def test_card_data_is_not_deterministic_and_the_proxy_is_https_only(
    read_context: ContextFactory,
) -> None:
    assert run("vault.no_deterministic_card_data", read_context()).status == "pass"
    oracle = read_context(vault_deterministic_types=["email", "pan"])
    assert run("vault.no_deterministic_card_data", oracle).status == "fail"
    assert run("vault.proxy_tls_only", read_context()).status == "pass"
    assert run("vault.proxy_tls_only", read_context(vault_proxy_allow_http=True)).status == "fail"
