"""The client_credentials grant (iam.oauth2.grants.client_credentials), Rampart's own handler:
every RFC 6749 §5.2 answer, the audit entry committed before the token is handed out (503 when
it cannot be), the client cache evicted on rotation and deletion in this process and bounded by
its TTL across processes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.audit.models import AuditEntry
from core.audit.writer import close_audit_writer, get_audit_writer
from core.errors import DatabaseUnavailable
from iam.oauth2 import client_cache
from iam.oauth2.grants import client_credentials
from iam.oauth2.models import OAuth2Client
from iam.oauth2.service import delete_client, rotate_client_secret
from tests.iam.oauth2.support import RegisteredApp, audit_events, basic, make_client

pytestmark = pytest.mark.usefixtures("fresh_caches")


@pytest.fixture
def fresh_caches() -> Iterator[None]:
    client_cache.clear_client_cache()
    yield
    client_cache.clear_client_cache()
    close_audit_writer()


def _token(http: TestClient, app: RegisteredApp, secret: str | None = None) -> dict[str, object]:
    response = http.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "orders:read"},
        auth=(app.client_id, secret or basic(app)[1]),
    )
    return {"status": response.status_code, **response.json(), "headers": response.headers}


def test_token_is_answered_after_its_audit_entry_committed(http: TestClient, db: Session) -> None:
    app = make_client(db, audiences=["https://orders"])
    first = _token(http, app)  # warms the caches
    assert first["status"] == 200
    batches = get_audit_writer().batches
    second = _token(http, app)
    assert second["status"] == 200
    headers = second["headers"]
    assert headers["cache-control"] == "no-store" and headers["pragma"] == "no-cache"  # type: ignore[index]
    assert headers["content-type"] == "application/json"  # type: ignore[index]
    assert set(second) - {"status", "headers"} == {
        "access_token",
        "token_type",
        "expires_in",
        "scope",
    }
    # Served by the group-commit writer, and committed before the answer came back.
    assert get_audit_writer().batches > batches
    entries = audit_events(db, "oauth2.token.issued")
    assert len(entries) == 2
    assert entries[-1].actor == f"client:{app.client_id}"
    assert "access_token" not in entries[-1].details
    assert client_cache.cached_client(app.client_id) is not None


def test_rotation_in_this_process_stops_the_old_secret_at_once(
    http: TestClient, db: Session
) -> None:
    app = make_client(db)
    assert _token(http, app)["status"] == 200
    new_secret = rotate_client_secret(db, app.client_id)
    db.commit()
    old = _token(http, app)
    assert old["status"] == 401 and old["error"] == "invalid_client"
    assert _token(http, app, new_secret)["status"] == 200


def test_deletion_in_this_process_stops_the_client_at_once(http: TestClient, db: Session) -> None:
    app = make_client(db)
    assert _token(http, app)["status"] == 200
    delete_client(db, app.client_id)
    db.commit()
    assert _token(http, app)["error"] == "invalid_client"


def test_a_change_made_elsewhere_counts_within_the_ttl(
    http: TestClient, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_cache, "TTL_SECONDS", 0.5)
    app = make_client(db)
    assert _token(http, app)["status"] == 200
    # Another replica rotated the secret: this process was not told.
    db.execute(
        update(OAuth2Client)
        .where(OAuth2Client.client_id == app.client_id)
        .values(secret_hash=b"\0" * 32)
    )
    db.commit()
    time.sleep(0.6)
    assert _token(http, app)["error"] == "invalid_client"


def _post(http: TestClient, data: dict[str, str], **kwargs: Any) -> tuple[int, dict[str, Any]]:
    response = http.post("/oauth2/token", data=data, **kwargs)
    assert response.headers["cache-control"] == "no-store"
    return response.status_code, response.json()


def test_every_error_of_the_grant(http: TestClient, db: Session) -> None:
    app = make_client(db)
    cc = {"grant_type": "client_credentials"}
    assert _post(http, {**cc, "scope": "admin"}, auth=basic(app)) == (
        400,
        {"error": "invalid_scope", "error_description": "The requested scope is invalid, "
         "unknown, or malformed."},
    )  # fmt: skip
    status, body = _post(http, {**cc, "resource": "https://elsewhere"}, auth=basic(app))
    assert (status, body["error"]) == (400, "invalid_target")
    status, body = _post(http, cc, auth=(app.client_id, "rps_wrong"))
    assert (status, body["error"]) == (401, "invalid_client")
    repeated = http.post(
        "/oauth2/token", content="grant_type=client_credentials&scope=a&scope=b",
        headers={"Content-Type": "application/x-www-form-urlencoded"}, auth=basic(app),
    )  # fmt: skip
    assert (repeated.status_code, repeated.json()["error"]) == (400, "invalid_request")
    two_methods = {**cc, "client_id": app.client_id, "client_secret": basic(app)[1]}
    status, body = _post(http, two_methods, auth=basic(app))
    assert (status, body["error"]) == (401, "invalid_client")
    none_at_all = http.post("/oauth2/token", data=cc)
    assert none_at_all.status_code == 401
    assert none_at_all.headers["www-authenticate"].startswith("Basic ")
    code_only = make_client(db, name="web-only", grant_types=["authorization_code"])
    status, body = _post(http, cc, auth=basic(code_only))
    assert (status, body["error"]) == (400, "unauthorized_client")
    # Nothing was audited for the refused requests.
    issued = db.scalars(select(AuditEntry).where(AuditEntry.event_type == "oauth2.token.issued"))
    assert list(issued) == []


def test_client_secret_post_and_resource(http: TestClient, db: Session) -> None:
    app = make_client(
        db, token_endpoint_auth_method="client_secret_post", audiences=["https://a", "https://b"]
    )
    client_id, secret = basic(app)
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    status, body = _post(http, {**form, "resource": "https://b", "scope": "orders:read"})
    assert status == 200 and body["scope"] == "orders:read" and "refresh_token" not in body
    status, body = _post(http, form, auth=basic(app))  # Basic is not this client's method
    assert (status, body["error"]) == (401, "invalid_client")


def test_a_token_that_cannot_be_audited_is_never_handed_out(
    http: TestClient, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_client(db)

    async def ledger_down(**_kwargs: Any) -> None:
        raise DatabaseUnavailable("the audit ledger is unreachable")

    monkeypatch.setattr(client_credentials, "record_event_committed", ledger_down)
    response = http.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=basic(app)
    )
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert "access_token" not in response.text
