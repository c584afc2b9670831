"""Deleting or disabling a client, or disabling a user, revokes every token it holds: at once in
the process that did it, within REVOCATION_CACHE_SECONDS in every other one (a marker row each
guard reads), on the vault's lean routes (caller answered from memory) and on routes guarded by
a dependency (verified afresh) alike, and introspection says
``active: false``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cli.main import app as cli
from core.database import unit_of_work
from iam.oauth2.token_store import REVOCATION_CACHE_SECONDS, guard_revocations
from iam.oauth2.verified_cache import verified_tokens
from tests.iam.oauth2.support import get_code, login, make_client, make_user, pkce_pair, redeem
from tests.policies.authz_support import (
    ServiceClient,
    add_policy_lines,
    api,
    authz_settings,
    make_service_client,
    token_for,
)
from vault.keys import forget_cached_scopes

__all__ = ["api", "authz_settings"]  # fixtures used by name

PAN = "4111111111111111"
DETOKENIZE = "/v1/vault/pan/detokenize"
REVEAL = "/v1/vault/pan/reveal"  # guarded by a dependency (core.authz.authorize)
runner = CliRunner()


@pytest.fixture(autouse=True)
def _fresh_guard_memory() -> Iterator[None]:
    """What a previous test revoked (same client ids, another database) is not this one's."""
    guard_revocations.forget()
    verified_tokens.forget()
    forget_cached_scopes()
    yield
    guard_revocations.forget()
    verified_tokens.forget()
    forget_cached_scopes()


@pytest.fixture
def resource_server() -> ServiceClient:
    """Another client, which introspects the tokens (the revoked client no longer can)."""
    return make_service_client("svc-introspector")


def _service_with_card(api: TestClient, client_id: str) -> tuple[ServiceClient, str, str]:
    """A client allowed to tokenize, detokenize and reveal cards, its token, and a card's vault
    token."""
    client = make_service_client(client_id)
    add_policy_lines(
        f"g, client:{client_id}, role:service, rampart",
        f"p, client:{client_id}, rampart, vault/pan, tokenize|detokenize|reveal, allow,",
    )
    token = token_for(api, client)
    tokenized = api.post("/v1/vault/pan/tokens", json={"value": PAN}, headers=_auth(token))
    assert tokenized.status_code == 201, tokenized.text
    return client, token, str(tokenized.json()["token"])


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _detokenize(http: TestClient, token: str, vault_token: str) -> Any:
    body = {"token": vault_token, "purpose": "refund.issue"}
    return http.post(DETOKENIZE, json=body, headers=_auth(token))


def _reveal(http: TestClient, token: str, vault_token: str) -> Any:
    return http.post(REVEAL, json={"token": vault_token}, headers=_auth(token))


def _introspect(http: TestClient, introspector: ServiceClient, token: str) -> dict[str, Any]:
    response = http.post(
        "/oauth2/introspect",
        data={"token": token},
        auth=(introspector.client_id, introspector.secret),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _assert_works(api: TestClient, token: str, vault_token: str) -> None:
    for _ in range(2):  # the second one answered from the verified-token cache
        lean = _detokenize(api, token, vault_token)
        assert lean.status_code == 200 and lean.json()["value"] == PAN
    assert verified_tokens.recall(token) is not None  # the lean guard's memory really knows it
    routed_answer = _reveal(api, token, vault_token)
    assert routed_answer.status_code == 200, routed_answer.text


def _assert_cut_off(
    api: TestClient, introspector: ServiceClient, token: str, vault_token: str
) -> None:
    for refused in (_detokenize(api, token, vault_token), _reveal(api, token, vault_token)):
        assert refused.status_code == 401, refused.text
        assert PAN not in refused.text
    assert api.get("/v1/policies", headers=_auth(token)).status_code == 401
    assert _introspect(api, introspector, token) == {"active": False}


@pytest.mark.parametrize("how", ["delete", "disable"])
def test_a_deleted_or_disabled_clients_tokens_stop_working_at_once(
    api: TestClient, resource_server: ServiceClient, how: str
) -> None:
    client, token, vault_token = _service_with_card(api, "svc-refunds")
    _assert_works(api, token, vault_token)
    assert _introspect(api, resource_server, token)["active"] is True
    args = ["delete", "--yes"] if how == "delete" else ["update", "--disable"]
    result = runner.invoke(cli, ["client", args[0], client.client_id, *args[1:]])
    assert result.exit_code == 0, result.output
    _assert_cut_off(api, resource_server, token, vault_token)
    refused = api.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, client.secret),
    )
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"


def test_an_enabled_again_client_gets_new_tokens_but_not_its_old_ones_back(
    api: TestClient, resource_server: ServiceClient
) -> None:
    client, old_token, vault_token = _service_with_card(api, "svc-refunds")
    assert runner.invoke(cli, ["client", "update", client.client_id, "--disable"]).exit_code == 0
    time.sleep(1.01)  # a new token's iat (whole seconds) is after the revocation
    assert runner.invoke(cli, ["client", "update", client.client_id, "--enable"]).exit_code == 0
    new_token = token_for(api, client)
    _assert_works(api, new_token, vault_token)
    _assert_cut_off(api, resource_server, old_token, vault_token)


def test_a_revocation_by_another_process_counts_within_the_bound(
    api: TestClient, resource_server: ServiceClient
) -> None:
    """This process's guard has cached the token as not revoked; the client is deleted by
    another process (here: this one's memory of doing it is wiped): the row decides."""
    client, token, vault_token = _service_with_card(api, "svc-refunds")
    _assert_works(api, token, vault_token)
    assert runner.invoke(cli, ["client", "delete", client.client_id, "--yes"]).exit_code == 0
    guard_revocations.forget()  # as if another process had deleted it
    verified_tokens.forget()
    _assert_works_not_within(api, resource_server, token, vault_token)


def _assert_works_not_within(
    api: TestClient, introspector: ServiceClient, token: str, vault_token: str
) -> None:
    start = time.monotonic()
    _assert_cut_off(api, introspector, token, vault_token)
    assert time.monotonic() - start < 5  # no wait was needed: nothing cached it as good


def _user_token(api: TestClient, email: str) -> tuple[str, str]:
    """A user's tokens from the login flow (authorization code with PKCE)."""
    with unit_of_work() as db:
        make_user(db, email)
        web = make_client(db, name="shop-web")
    browser = TestClient(api.app, base_url=str(api.base_url), follow_redirects=False)
    login(browser, email)
    verifier, challenge = pkce_pair()
    code = get_code(browser, web.client_id, challenge)
    tokens = redeem(browser, web, code, verifier)
    assert tokens.status_code == 200, tokens.text
    return str(tokens.json()["access_token"]), str(tokens.json()["refresh_token"])


def test_a_disabled_users_tokens_stop_working_at_once(
    api: TestClient, resource_server: ServiceClient
) -> None:
    access, refresh = _user_token(api, "alice@example.com")
    assert api.get("/v1/policies", headers=_auth(access)).status_code == 403  # known, not allowed
    assert _introspect(api, resource_server, access)["active"] is True
    result = runner.invoke(cli, ["user", "disable", "alice@example.com"])
    assert result.exit_code == 0, result.output
    assert api.get("/v1/policies", headers=_auth(access)).status_code == 401
    assert _introspect(api, resource_server, access) == {"active": False}
    assert _introspect(api, resource_server, refresh) == {"active": False}
    guard_revocations.forget()  # and in a process that did not do it
    assert _introspect(api, resource_server, access) == {"active": False}
    assert REVOCATION_CACHE_SECONDS <= 1.0
