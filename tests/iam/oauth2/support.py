"""Helpers of the OAuth tests: clients, PKCE, a scripted browser login and the code flow."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.models import AuditEntry
from iam.accounts.models import User
from iam.accounts.service import create_user
from iam.oauth2.schemas import ClientSpec
from iam.oauth2.service import apply_client

PASSWORD = "correct horse 42 battery"
REDIRECT_URI = "http://127.0.0.1:9999/callback"
LOGOUT_REDIRECT_URI = "http://127.0.0.1:9999/logged-out"


def make_user(db: Session, email: str = "alice@example.com") -> User:
    user, _ = create_user(db, email, password=PASSWORD, name="Alice", email_verified=True)
    db.commit()
    return user


@dataclass(frozen=True)
class RegisteredApp:
    client_id: str
    secret: str | None


def make_client(db: Session, name: str = "shop-web", **overrides: Any) -> RegisteredApp:
    spec: dict[str, Any] = {
        "name": name,
        "client_type": "confidential",
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "redirect_uris": [REDIRECT_URI],
        "post_logout_redirect_uris": [LOGOUT_REDIRECT_URI],
        "scopes": ["openid", "profile", "email", "orders:read"],
        "first_party": True,
    }
    spec.update(overrides)
    applied = apply_client(db, ClientSpec(**spec))
    db.commit()
    return RegisteredApp(applied.client.client_id, applied.client_secret)


def basic(app: RegisteredApp) -> tuple[str, str]:
    assert app.secret is not None
    return (app.client_id, app.secret)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    return verifier, challenge.decode()


def login(http: TestClient, email: str = "alice@example.com", password: str = PASSWORD) -> None:
    page = http.get("/login", params={"next": "/"})
    assert page.status_code == 200, page.text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "login page has no CSRF token"
    response = http.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": match.group(1), "next": "/"},
    )
    assert response.status_code in (302, 303), response.text


def authorize_params(client_id: str, challenge: str, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile email",
        "state": "st-" + secrets.token_hex(4),
        "nonce": "n-" + secrets.token_hex(4),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(extra)
    return params


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def get_code(http: TestClient, client_id: str, challenge: str, **extra: str) -> str:
    """Run /oauth2/authorize for a logged-in browser; returns the code."""
    response = http.get(
        "/oauth2/authorize?" + urlencode(authorize_params(client_id, challenge, **extra))
    )
    assert response.status_code == 302, response.text
    params = query_of(response.headers["location"])
    assert "code" in params, params
    return params["code"]


def redeem(http: TestClient, app: RegisteredApp, code: str, verifier: str, **extra: str) -> Any:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
        **extra,
    }
    if app.secret is None:
        data["client_id"] = app.client_id
        return http.post("/oauth2/token", data=data)
    return http.post("/oauth2/token", data=data, auth=basic(app))


def audit_events(db: Session, event_type: str) -> list[AuditEntry]:
    db.expire_all()
    return list(db.execute(select(AuditEntry).where(AuditEntry.event_type == event_type)).scalars())


def introspected_active(base: str, introspector: tuple[str, str], token: str) -> bool:
    """``active`` of a real server's introspection answer (``introspector``: Basic id, secret)."""
    response = httpx.post(
        base + "/oauth2/introspect", data={"token": token}, auth=introspector, timeout=5
    )
    assert response.status_code == 200, response.text
    return bool(response.json()["active"])
