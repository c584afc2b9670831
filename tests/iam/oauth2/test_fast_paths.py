"""The lean client_credentials and introspection paths: same answers as authlib's path, the
audit entry committed before the answer, the client cache evicted on rotation and deletion in
this process and bounded by its TTL across processes, revocation seen at once."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.audit.models import AuditEntry
from core.audit.writer import close_audit_writer, get_audit_writer
from iam.oauth2 import client_cache
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


def test_token_is_answered_by_the_lean_path_after_its_audit_entry_committed(
    http: TestClient, db: Session
) -> None:
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


def test_introspection_lean_path_and_exact_revocation(http: TestClient, db: Session) -> None:
    app = make_client(db, audiences=["https://orders"])
    token = str(_token(http, app)["access_token"])
    for _ in range(2):  # the second answer comes from the warmed caches
        answer = http.post("/oauth2/introspect", data={"token": token}, auth=basic(app))
        assert answer.status_code == 200
        body = answer.json()
        assert body["active"] is True and body["client_id"] == app.client_id
        assert body["aud"] == "https://orders" and body["token_type"] == "Bearer"
        assert answer.headers["cache-control"] == "no-store"
    revoked = http.post("/oauth2/revoke", data={"token": token}, auth=basic(app))
    assert revoked.status_code == 200
    after = http.post("/oauth2/introspect", data={"token": token}, auth=basic(app))
    assert after.json() == {"active": False}
    assert audit_events(db, "oauth2.token.revoked")


def test_lean_paths_leave_errors_to_authlib(http: TestClient, db: Session) -> None:
    app = make_client(db)
    assert _token(http, app)["status"] == 200
    bad_scope = http.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "admin"},
        auth=basic(app),
    )
    assert bad_scope.status_code == 400 and bad_scope.json()["error"] == "invalid_scope"
    bad_target = http.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "resource": "https://elsewhere"},
        auth=basic(app),
    )
    assert bad_target.json()["error"] == "invalid_target"
    wrong = _token(http, app, "rps_wrong")
    assert wrong["status"] == 401 and wrong["error"] == "invalid_client"
    missing = http.post("/oauth2/introspect", data={}, auth=basic(app))
    assert missing.json()["error"] == "invalid_request"
    garbage = http.post("/oauth2/introspect", data={"token": "a.b.c"}, auth=basic(app))
    assert garbage.json() == {"active": False}
    # Nothing was audited for the refused requests.
    issued = db.scalars(select(AuditEntry).where(AuditEntry.event_type == "oauth2.token.issued"))
    assert len(list(issued)) == 1
