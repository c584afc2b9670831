"""No oracles (issue 12 item 1): the fingerprint attack over real HTTP, against the real guard
(access tokens from the token endpoint, the stored default policy: role:service may tokenize
and read metadata of every type). An attacker holding a card's first6_last4 token tries the
Luhn-valid middles, and one holding a deterministic e-mail token tries addresses; both worked
before comparison scopes, fingerprint permissions and candidate budgets.

The full space of a 16-digit first6_last4 card is 10^5 Luhn-valid middles (100 batches); the
cards here sit early in the order the attack tries them, so a run that would succeed ends in
one or two batches. None of the defences depends on where a card sits.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from itertools import islice

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from core.database import unit_of_work
from core.sensitive import luhn_valid
from core.settings import get_settings
from tests.policies.authz_support import api, audit_entries, authz_settings, bearer
from vault.models import VaultToken

__all__ = ["api", "authz_settings", "bearer"]  # fixtures used by name

Bearer = Callable[..., dict[str, str]]
PROBLEM = "application/problem+json"
FIRST6, LAST4 = "411111", "1111"
SERVICE = "g, client:{}, role:service, rampart"
FINGERPRINTS = "p, client:{}, rampart, vault/pan, fingerprint, allow,"


def luhn_valid_cards(first6: str, last4: str) -> Iterator[str]:
    """Every 16-digit card with these kept digits, in the order an attacker would try them."""
    for middle in range(10**6):
        card = f"{first6}{middle:06d}{last4}"
        if luhn_valid(card):
            yield card


VICTIM_PAN = next(islice(luhn_valid_cards(FIRST6, LAST4), 1500, None))  # in the 2nd batch


def _batches(values: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(values)
    while chunk := list(islice(iterator, size)):
        yield chunk


def recover_by_fingerprint(
    http: TestClient,
    auth: dict[str, str],
    target: str | None,
    candidates: Iterable[str],
    *,
    batch: int = 1000,
) -> tuple[str | None, list[int]]:
    """The attack: tokenize candidates in batches and compare each answer's fingerprint with
    the target's. Returns the recovered value (or None) and the status of every batch."""
    statuses = []
    for chunk in _batches(candidates, batch):
        answer = http.post(
            "/v1/vault/pan/tokens/batch",
            json={"items": [{"value": value} for value in chunk]},
            headers=auth,
        )
        statuses.append(answer.status_code)
        if answer.status_code != 200:
            return None, statuses
        for value, item in zip(chunk, answer.json()["items"], strict=True):
            seen = item["result"]["fingerprint"]
            if target is not None and seen == target:
                return value, statuses
    return None, statuses


def _hex(fingerprint: object) -> str | None:
    return fingerprint if isinstance(fingerprint, str) else None


def _tokenize(http: TestClient, auth: dict[str, str], kind: str, value: str, **extra: str) -> str:
    answer = http.post(f"/v1/vault/{kind}/tokens", json={"value": value, **extra}, headers=auth)
    assert answer.status_code in (200, 201), answer.text
    return str(answer.json()["token"])


def _metadata(http: TestClient, auth: dict[str, str], kind: str, token: str) -> dict[str, object]:
    answer = http.post(f"/v1/vault/{kind}/metadata", json={"token": token}, headers=auth)
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def _stored_tokens() -> int:
    with unit_of_work(read_only=True) as db:
        return int(db.scalar(select(func.count()).select_from(VaultToken)) or 0)


def test_a_service_cannot_recover_a_card_from_its_first6_last4_token(
    api: TestClient, bearer: Bearer
) -> None:
    checkout = bearer("checkout", SERVICE.format("checkout"))
    attacker = bearer("crm", SERVICE.format("crm"))  # role:service defaults, nothing more
    token = _tokenize(api, checkout, "pan", VICTIM_PAN, format="pan_first6_last4")
    assert token.startswith(FIRST6) and token.endswith(LAST4)

    target = _metadata(api, attacker, "pan", token)["fingerprint"]
    candidates = islice(luhn_valid_cards(FIRST6, LAST4), 2000)
    found, statuses = recover_by_fingerprint(api, attacker, _hex(target), candidates)
    recovered = found is not None  # never the card itself in the test's output
    assert not recovered, "the attack recovered the card number"
    assert statuses == [200, 200]  # answered, but with nothing to compare:
    assert target is None  # no fingerprint without the dedicated permission


def test_fingerprints_of_another_caller_never_match(api: TestClient, bearer: Bearer) -> None:
    # Both hold the dedicated permission: each sees fingerprints, of its own scope only.
    checkout = bearer("checkout", SERVICE.format("checkout"), FINGERPRINTS.format("checkout"))
    attacker = bearer("crm", SERVICE.format("crm"), FINGERPRINTS.format("crm"))
    token = _tokenize(api, checkout, "pan", VICTIM_PAN, format="pan_first6_last4")
    own = _metadata(api, checkout, "pan", token)["fingerprint"]
    assert isinstance(own, str) and len(own) == 64
    assert _metadata(api, attacker, "pan", token)["fingerprint"] is None  # not its scope

    candidates = islice(luhn_valid_cards(FIRST6, LAST4), 2000)  # the card is among them
    found, statuses = recover_by_fingerprint(api, attacker, own, candidates)
    recovered = found is not None
    assert not recovered, "the attacker's fingerprints matched the card's"
    assert statuses == [200, 200]
    again = api.post("/v1/vault/pan/tokens", json={"value": VICTIM_PAN}, headers=attacker).json()
    assert again["fingerprint"] is not None and again["fingerprint"] != own


def test_a_bulk_candidate_run_in_a_shared_scope_is_limited_and_alerted(
    api: TestClient, bearer: Bearer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAMPART_VAULT_CANDIDATE_BUDGET", "500")
    get_settings.cache_clear()
    sharing = [
        "p, client:{}, rampart, vault/pan/scopes/cards, join, allow,",
        FINGERPRINTS,
        SERVICE,
    ]
    checkout = bearer("checkout", *(line.format("checkout") for line in sharing))
    attacker = bearer("crm", *(line.format("crm") for line in sharing))
    stranger = bearer("orders", SERVICE.format("orders"))
    cards = {"Rampart-Vault-Scope": "cards"}
    token = _tokenize(api, {**checkout, **cards}, "pan", VICTIM_PAN, format="pan_first6_last4")
    # A policy shares the scope, so the attacker sees the card's fingerprint...
    target = _metadata(api, {**attacker, **cards}, "pan", token)["fingerprint"]
    assert isinstance(target, str)
    refused = api.post(
        "/v1/vault/pan/metadata", json={"token": token}, headers={**stranger, **cards}
    )
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM

    # ...but a run of candidates is stopped at the budget, with nothing stored, and alerted.
    before = _stored_tokens()
    candidates = islice(luhn_valid_cards(FIRST6, LAST4), 2000)
    found, statuses = recover_by_fingerprint(api, {**attacker, **cards}, target, candidates)
    recovered = found is not None
    assert not recovered, "the candidate run recovered the card number"
    assert statuses == [429]
    assert _stored_tokens() == before
    small = list(islice(luhn_valid_cards(FIRST6, LAST4), 800))
    found, statuses = recover_by_fingerprint(api, {**attacker, **cards}, target, small, batch=400)
    assert found is None and statuses == [200, 429]  # the card is not among the first 800

    over = api.post(
        "/v1/vault/pan/tokens/batch",
        json={"items": [{"value": card} for card in small[:200]]},
        headers={**attacker, **cards},
    )
    assert over.status_code == 429 and over.headers["content-type"] == PROBLEM
    problem = over.json()
    assert problem["type"].endswith("/vault-candidate-budget-exceeded")
    assert int(over.headers["retry-after"]) > 0 and problem["budget"] == 500
    assert VICTIM_PAN not in over.text
    with unit_of_work(read_only=True) as db:
        alerts = audit_entries(db, "vault.candidate_budget_exceeded")
        assert len(alerts) >= 3
        first = json.loads(alerts[0].details)
        assert alerts[0].actor == "crm" and alerts[0].outcome == "denied"
        assert first["requested"] == 1000 and first["scope"] == "shared:cards"
        assert all(VICTIM_PAN not in entry.details for entry in alerts)


@pytest.fixture
def deterministic_emails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAMPART_VAULT_DETERMINISTIC_TYPES", '["email"]')
    get_settings.cache_clear()


GUESSES = [
    "ada@example.com",
    "a.lovelace@example.com",
    "lovelace@example.com",
    "ada.lovelace@example.com",  # the right one
    "ada.l@example.com",
]


@pytest.mark.usefixtures("deterministic_emails")
def test_a_service_cannot_guess_an_email_behind_a_deterministic_token(
    api: TestClient, bearer: Bearer
) -> None:
    crm = bearer("crm", SERVICE.format("crm"))
    attacker = bearer("orders", SERVICE.format("orders"))
    token = _tokenize(api, crm, "email", "ada.lovelace@example.com")
    assert _tokenize(api, crm, "email", "ada.lovelace@example.com") == token  # still convergent
    guessed = [_tokenize(api, attacker, "email", guess) for guess in GUESSES]
    matched = token in guessed  # the attacker's deterministic tokens live in its own scope
    assert not matched, "a guessed address gave the victim's token"
    assert _metadata(api, attacker, "email", token)["fingerprint"] is None
    answer = api.post(
        "/v1/vault/email/tokens/batch",
        json={"items": [{"value": guess} for guess in GUESSES]},
        headers=attacker,
    )
    assert answer.status_code == 200
    items = answer.json()["items"]
    assert [item["result"]["token"] for item in items] == guessed  # convergent for it, alone
    assert all(item["result"]["fingerprint"] is None for item in items)


@pytest.mark.usefixtures("deterministic_emails")
def test_email_guesses_in_a_shared_scope_are_limited_and_alerted(
    api: TestClient, bearer: Bearer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAMPART_VAULT_CANDIDATE_BUDGET", "20")
    get_settings.cache_clear()
    join = "p, client:{}, rampart, vault/email/scopes/customers, join, allow,"
    crm = bearer("crm", SERVICE.format("crm"), join.format("crm"))
    attacker = bearer("orders", SERVICE.format("orders"), join.format("orders"))
    customers = {"Rampart-Vault-Scope": "customers"}
    token = _tokenize(api, {**crm, **customers}, "email", "ada.lovelace@example.com")
    # Sharing the scope makes the tokens comparable, as the policy asked...
    assert _tokenize(api, {**attacker, **customers}, "email", "ada.lovelace@example.com") == token
    # ...and every new value tried counts: a dictionary run is refused whole, and alerted.
    names = [f"user{number}@example.com" for number in range(50)]
    answer = api.post(
        "/v1/vault/email/tokens/batch",
        json={"items": [{"value": name} for name in names]},
        headers={**attacker, **customers},
    )
    assert answer.status_code == 429 and answer.headers["content-type"] == PROBLEM
    assert "example.com" not in answer.text
    with unit_of_work(read_only=True) as db:
        (alert,) = audit_entries(db, "vault.candidate_budget_exceeded")
        details = json.loads(alert.details)
        assert alert.actor == "orders" and details["requested"] == 50
        assert details["type"] == "email" and details["scope"] == "shared:customers"


def test_the_scope_header_is_documented_where_it_is_read(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/vault/email/tokens",
        "/v1/vault/email/tokens/batch",
        "/v1/vault/pan/metadata",
    ):
        names = [parameter["name"] for parameter in paths[path]["post"].get("parameters", [])]
        assert "Rampart-Vault-Scope" in names
    assert "parameters" not in paths["/v1/vault/pan/reveal"]["post"]
