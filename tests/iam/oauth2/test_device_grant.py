"""RFC 8628 device authorization grant over real HTTP: the device authorization endpoint, the
polling answers, the /device page (login, CSRF, approve/deny, wrong codes) and the token."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import utcnow
from iam.keys.jws import b64url_decode
from iam.oauth2.models import DeviceAuthorization
from iam.oauth2.service import CLI_CLIENT_ID, ensure_cli_client
from iam.oauth2.token_store import opaque_hash
from iam.pages.rendering import PAGES_CSP
from tests.iam.oauth2.support import audit_events, login, make_client

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
USER_CODE = re.compile(r"^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$")


def _cli(db: Session) -> str:
    ensure_cli_client(db)
    db.commit()
    return CLI_CLIENT_ID


def _start(http: TestClient, client_id: str, **extra: str) -> dict[str, Any]:
    response = http.post("/oauth2/device_authorization", data={"client_id": client_id, **extra})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


def _poll(http: TestClient, client_id: str, device_code: str) -> Any:
    return http.post(
        "/oauth2/token",
        data={"grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": client_id},
    )


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def _decide(http: TestClient, user_code: str, decision: str) -> Any:
    form = http.get("/device", params={"user_code": user_code})
    assert form.status_code == 200, form.text
    confirm = http.post("/device", data={"user_code": user_code, "csrf_token": _csrf(form.text)})
    assert confirm.status_code == 200, confirm.text
    assert 'id="approve"' in confirm.text
    return http.post(
        "/device",
        data={"user_code": user_code, "csrf_token": _csrf(confirm.text), "decision": decision},
    )


def _read(db: Session, column: Any) -> Any:
    """One value of the (only) stored authorization; ends the read so SQLite's app can write."""
    db.expire_all()
    value = db.execute(select(column)).scalar_one()
    db.rollback()
    return value


def _claims(jwt: str) -> dict[str, Any]:
    claims: dict[str, Any] = json.loads(b64url_decode(jwt.split(".")[1]))
    return claims


def test_device_authorization_answer(http: TestClient, db: Session) -> None:
    client_id = _cli(db)
    body = _start(http, client_id, scope="openid")
    assert set(body) == {
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
        "interval",
    }
    assert USER_CODE.fullmatch(body["user_code"])
    issuer = str(http.base_url).rstrip("/")
    assert body["verification_uri"] == issuer + "/device"
    complete = urlsplit(body["verification_uri_complete"])
    assert parse_qs(complete.query) == {"user_code": [body["user_code"]]}
    assert body["interval"] == 5 and 0 < body["expires_in"] <= 1800
    # Only hashes are stored.
    row = db.execute(select(DeviceAuthorization)).scalar_one()
    assert row.device_code_hash == opaque_hash(body["device_code"])
    assert body["device_code"] not in str(row.__dict__)
    assert row.scope == "openid"


def test_scope_and_grant_checked(http: TestClient, db: Session) -> None:
    client_id = _cli(db)
    bad_scope = http.post(
        "/oauth2/device_authorization", data={"client_id": client_id, "scope": "vault:admin"}
    )
    assert bad_scope.status_code == 400 and bad_scope.json()["error"] == "invalid_scope"
    other = make_client(db, "no-device")
    refused = http.post(
        "/oauth2/device_authorization",
        data={"client_id": other.client_id},
        auth=(other.client_id, other.secret or ""),
    )
    assert refused.status_code == 400 and refused.json()["error"] == "unauthorized_client"
    unknown = http.post("/oauth2/device_authorization", data={"client_id": "nobody-here"})
    assert unknown.json()["error"] == "invalid_client"


def test_pending_slow_down_approve_then_single_use(
    http: TestClient, db: Session, user_email: str
) -> None:
    client_id = _cli(db)
    body = _start(http, client_id)
    first = _poll(http, client_id, body["device_code"])
    assert first.status_code == 400 and first.json()["error"] == "authorization_pending"
    fast = _poll(http, client_id, body["device_code"])
    assert fast.status_code == 400 and fast.json()["error"] == "slow_down"
    assert _read(db, DeviceAuthorization.interval) == 10

    assert http.get("/device").headers["location"].startswith("/login?next=")
    login(http, user_email)
    done = _decide(http, body["user_code"], "approve")
    assert done.status_code == 200 and 'id="device-done"' in done.text

    token = _poll(http, client_id, body["device_code"])
    assert token.status_code == 200, token.text
    issued = token.json()
    assert issued["token_type"] == "Bearer" and "refresh_token" in issued
    claims = _claims(issued["access_token"])
    user_id = _read(db, DeviceAuthorization.user_id)
    assert claims["sub"] == str(user_id)
    assert claims["amr"] == ["pwd"] and claims["client_id"] == client_id
    assert "auth_time" in claims and "sid" in claims

    again = _poll(http, client_id, body["device_code"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"

    refreshed = http.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": issued["refresh_token"],
            "client_id": client_id,
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    assert _claims(refreshed.json()["access_token"])["amr"] == ["pwd"]

    (approved,) = audit_events(db, "oauth2.device.approved")
    assert approved.actor == f"user:{user_id}"
    issued_events = audit_events(db, "oauth2.token.issued")
    assert any(json.loads(e.details).get("grant_type") == DEVICE_GRANT for e in issued_events)
    for entry in [*issued_events, approved, *audit_events(db, "oauth2.device.requested")]:
        text = str(entry.details)
        assert body["device_code"] not in text and body["user_code"] not in text


def test_denied_is_access_denied(http: TestClient, db: Session, user_email: str) -> None:
    client_id = _cli(db)
    body = _start(http, client_id)
    login(http, user_email)
    assert _decide(http, body["user_code"], "deny").status_code == 200
    denied = _poll(http, client_id, body["device_code"])
    assert denied.status_code == 400 and denied.json()["error"] == "access_denied"
    assert len(audit_events(db, "oauth2.device.denied")) == 1


def test_expired_is_expired_token(http: TestClient, db: Session, user_email: str) -> None:
    client_id = _cli(db)
    body = _start(http, client_id)
    row = db.execute(select(DeviceAuthorization)).scalar_one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.commit()
    expired = _poll(http, client_id, body["device_code"])
    assert expired.status_code == 400 and expired.json()["error"] == "expired_token"
    # Nor can the person approve it any more.
    login(http, user_email)
    form = http.get("/device")
    late = http.post(
        "/device", data={"user_code": body["user_code"], "csrf_token": _csrf(form.text)}
    )
    assert late.status_code == 422


def test_unknown_device_code_is_invalid_grant(http: TestClient, db: Session) -> None:
    client_id = _cli(db)
    unknown = _poll(http, client_id, "not-a-device-code")
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_grant"


def test_wrong_user_code_reveals_nothing_and_is_limited(
    http: TestClient, db: Session, user_email: str
) -> None:
    client_id = _cli(db)
    body = _start(http, client_id)
    login(http, user_email)
    csrf = _csrf(http.get("/device").text)
    answers = []
    for typed in ["BBBB-BBBB", "not a code", "bbbbcccc"]:
        wrong = http.post("/device", data={"user_code": typed, "csrf_token": csrf})
        assert wrong.status_code == 422
        answers.append(re.search(r'id="form-error"[^>]*>([^<]*)<', wrong.text).group(1))  # type: ignore[union-attr]
        assert "Rampart CLI" not in wrong.text
    assert len(set(answers)) == 1  # the same words whatever was wrong
    for _ in range(2):
        http.post("/device", data={"user_code": "BBBB-BBBB", "csrf_token": csrf})
    # Five wrong codes: even the right one is refused for a while.
    limited = http.post("/device", data={"user_code": body["user_code"], "csrf_token": csrf})
    assert limited.status_code == 429
    assert "Rampart CLI" not in limited.text
    assert len(audit_events(db, "oauth2.device.code_rejected")) == 5


def test_csrf_missing_is_refused(http: TestClient, db: Session, user_email: str) -> None:
    client_id = _cli(db)
    body = _start(http, client_id)
    login(http, user_email)
    refused = http.post("/device", data={"user_code": body["user_code"], "decision": "approve"})
    assert refused.status_code == 403
    assert _read(db, DeviceAuthorization.status) == "pending"
    pending = _poll(http, client_id, body["device_code"])
    assert pending.json()["error"] == "authorization_pending"


def test_device_page_has_the_pages_csp(http: TestClient, user_email: str) -> None:
    login(http, user_email)
    form = http.get("/device", params={"user_code": "BCDF-GHJK"})
    assert form.headers["content-security-policy"] == PAGES_CSP
    assert 'value="BCDF-GHJK"' in form.text


def test_discovery_names_the_endpoint(http: TestClient) -> None:
    metadata = http.get("/.well-known/openid-configuration").json()
    assert (
        metadata["device_authorization_endpoint"]
        == metadata["issuer"] + "/oauth2/device_authorization"
    )
    assert DEVICE_GRANT in metadata["grant_types_supported"]


def test_ensure_cli_client_is_idempotent(db: Session) -> None:
    first = ensure_cli_client(db)
    db.commit()
    second = ensure_cli_client(db)
    assert first.id == second.id
    assert first.client_type == "public" and first.token_endpoint_auth_method == "none"
    assert set(first.grant_types) == {DEVICE_GRANT, "refresh_token"}
    assert len(audit_events(db, "oauth2.client.created")) <= 1
