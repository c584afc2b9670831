"""No oracle on clients: the token, introspection and revocation endpoints refuse an unknown
client, a wrong secret and a wrong authentication method with one answer (status, body,
headers), for the same database work; revoking another client's token answers 200 (RFC 7009
§2.2) and leaves it alone."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from core.database import get_engine
from core.settings import Settings
from iam.oauth2.client_cache import clear_client_cache
from tests.iam.oauth2.support import RegisteredApp, audit_events, basic, make_client

VOLATILE_HEADERS = {"date", "x-request-id", "server-timing"}
ENDPOINTS = {
    "/oauth2/token": {"grant_type": "client_credentials"},
    "/oauth2/introspect": {"token": "not-a-token"},
    "/oauth2/revoke": {"token": "not-a-token"},
}


@pytest.fixture(autouse=True)
def _cold_client_cache() -> Iterator[None]:
    clear_client_cache()
    yield
    clear_client_cache()


@pytest.fixture
def server(oauth_settings: Settings) -> Iterator[TestClient]:
    from server.app import create_app

    with TestClient(create_app(oauth_settings), base_url=oauth_settings.issuer) as client:
        yield client


@pytest.fixture
def basic_client(db: Session) -> RegisteredApp:
    return make_client(db, name="svc-basic", grant_types=["client_credentials"])


@pytest.fixture
def post_client(db: Session) -> RegisteredApp:
    return make_client(
        db,
        name="svc-post",
        grant_types=["client_credentials"],
        token_endpoint_auth_method="client_secret_post",
    )


def _basic_header(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def _answer(http: TestClient, path: str, *, form: dict[str, str], headers: dict[str, str]) -> Any:
    response = http.post(path, data=form, headers=headers)
    kept = tuple(
        sorted((k, v) for k, v in response.headers.items() if k.lower() not in VOLATILE_HEADERS)
    )
    return response.status_code, response.content, kept


def _refusals(
    http: TestClient, path: str, basic_client: RegisteredApp, post_client: RegisteredApp
) -> dict[str, Any]:
    """Every way of failing to authenticate, with both ways of presenting a secret."""
    base = ENDPOINTS[path]
    assert basic_client.secret and post_client.secret
    as_basic = {
        "unknown client": ("rpc_no-such-client", basic_client.secret),
        "wrong secret": (basic_client.client_id, "rps_" + "x" * 43),
        "wrong method": (post_client.client_id, post_client.secret),
    }
    as_form = {
        "unknown client": ("rpc_no-such-client", post_client.secret),
        "wrong secret": (post_client.client_id, "rps_" + "x" * 43),
        "wrong method": (basic_client.client_id, basic_client.secret),
    }
    answers: dict[str, Any] = {}
    for case, (client_id, secret) in as_basic.items():
        answers[f"basic: {case}"] = _answer(
            http, path, form=base, headers=_basic_header(client_id, secret)
        )
    for case, (client_id, secret) in as_form.items():
        form = {**base, "client_id": client_id, "client_secret": secret}
        answers[f"form: {case}"] = _answer(http, path, form=form, headers={})
    return answers


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_every_failed_client_authentication_gets_the_same_answer(
    server: TestClient, path: str, basic_client: RegisteredApp, post_client: RegisteredApp
) -> None:
    for _ in range(2):  # cold, then with whatever the first round left in the caches
        answers = _refusals(server, path, basic_client, post_client)
        distinct = {answer for answer in answers.values()}
        assert len(distinct) == 1, answers
        status, body, headers = distinct.pop()
        assert status == 401
        assert b'"error":"invalid_client"' in body.replace(b" ", b"")
        for name in ("does not exist", "methods", "client_secret_basic", "svc-", "rpc_"):
            assert name.encode() not in body and name not in str(headers)
        assert dict(headers)["www-authenticate"].startswith("Basic ")


def _statements(http: TestClient, request: dict[str, Any]) -> int:
    count = 0

    def counted(*_args: Any) -> None:
        nonlocal count
        count += 1

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", counted)
    try:
        response = http.post("/oauth2/token", **request)
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    assert response.status_code == 401
    return count


def test_an_unknown_client_costs_the_database_work_of_a_wrong_secret(
    http: TestClient, basic_client: RegisteredApp
) -> None:
    assert basic_client.secret
    form = {"data": {"grant_type": "client_credentials"}}
    wrong = {**form, "headers": _basic_header(basic_client.client_id, "rps_" + "x" * 43)}
    unknown = {**form, "headers": _basic_header("rpc_no-such-client", basic_client.secret)}
    assert http.post("/oauth2/token", auth=basic(basic_client), **form).status_code == 200
    _statements(http, unknown)  # the first probe of an id looks it up once
    assert _statements(http, unknown) == _statements(http, wrong)


def test_revoking_another_clients_token_answers_200_and_revokes_nothing(
    http: TestClient, db: Session, basic_client: RegisteredApp, post_client: RegisteredApp
) -> None:
    issued = http.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=basic(basic_client)
    )
    token = issued.json()["access_token"]
    assert post_client.secret
    revoked = http.post(
        "/oauth2/revoke",
        data={
            "token": token,
            "client_id": post_client.client_id,
            "client_secret": post_client.secret,
        },
    )
    assert revoked.status_code == 200 and revoked.json() == {}
    unknown = http.post(
        "/oauth2/revoke",
        data={
            "token": "no-such-token",
            "client_id": post_client.client_id,
            "client_secret": post_client.secret,
        },
    )
    assert (unknown.status_code, unknown.content) == (revoked.status_code, revoked.content)
    still = http.post("/oauth2/introspect", data={"token": token}, auth=basic(basic_client))
    assert still.json()["active"] is True
    [refused] = audit_events(db, "oauth2.token.revocation_refused")
    assert refused.outcome == "denied" and token not in refused.details
    assert audit_events(db, "oauth2.token.revoked") == []
