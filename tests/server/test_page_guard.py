"""The page guard (core.authz.authorize_page): a browser's login session is the caller, decided
by the same policies as a bearer token; no session goes to the login page, not to a 401."""

# No `from __future__ import annotations`: FastAPI must see the Annotated guard as an object.

from collections.abc import Iterator
from typing import Annotated
from urllib.parse import quote

import pytest
from fastapi import Depends
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from core.authz import Principal, authorize_page, permission_of
from core.settings import Settings
from tests.iam.accounts.support import PASSWORD, db, iam_settings, make_user  # noqa: F401
from tests.iam.pages.support import login

PROBE = "/probe-page"


@pytest.fixture
def client(iam_settings: Settings) -> Iterator[TestClient]:  # noqa: F811 - the shared fixture
    from server.app import create_app

    app = create_app(iam_settings)
    guard = authorize_page("consent", "read")

    def probe(caller: Annotated[Principal, guard]) -> PlainTextResponse:
        return PlainTextResponse(f"{caller.kind}:{caller.subject}:{','.join(caller.roles)}")

    app.add_api_route(PROBE, probe, methods=["GET"])
    with TestClient(app) as test_client:
        yield test_client


def test_without_a_session_the_browser_is_sent_to_login_and_back(client: TestClient) -> None:
    response = client.get(PROBE + "?as_of=2026-01-31", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=" + quote(
        PROBE + "?as_of=2026-01-31", safe=""
    )


def test_a_bearer_token_is_not_a_page_caller(client: TestClient) -> None:
    response = client.get(
        PROBE, headers={"Authorization": "Bearer not-a-session"}, follow_redirects=False
    )
    assert response.status_code == 303


def test_the_session_user_is_decided_by_the_policies(
    client: TestClient,
    db: Session,  # noqa: F811 - the shared fixture
) -> None:
    auditor = make_user(db, "auditor@example.com", roles=["auditor"])
    make_user(db, "nobody@example.com")
    login(client, "nobody@example.com", PASSWORD, next_url=PROBE)
    refused = client.get(PROBE, follow_redirects=False)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")

    client.cookies.clear()
    login(client, "auditor@example.com", PASSWORD, next_url=PROBE)
    allowed = client.get(PROBE, follow_redirects=False)
    assert allowed.status_code == 200
    assert allowed.text == f"user:{auditor.id}:auditor"


def test_the_guard_declares_its_permission() -> None:
    assert permission_of(authorize_page("evidence", "export").dependency) == (
        "evidence",
        "export",
    )
    assert isinstance(authorize_page("a", "b"), type(Depends(lambda: None)))
