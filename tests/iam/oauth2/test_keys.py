"""Signing keys: sealed under the KMS, rotation keeps the previous key published until its tokens
expire, then drops it; audited."""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.settings import Settings
from iam.keys import jws
from iam.keys.models import SigningKey
from iam.keys.service import clear_signing_key_cache, rotate_signing_key
from iam.oauth2.verification import keys_from_jwks, verify_access_token
from tests.iam.oauth2.support import RegisteredApp, audit_events, basic, make_client


def _token(http: TestClient, app: RegisteredApp) -> str:
    data = {"grant_type": "client_credentials"}
    response = http.post("/oauth2/token", data=data, auth=basic(app))
    return str(response.json()["access_token"])


def test_rotation_keeps_old_tokens_verifiable_then_retires(
    http: TestClient, db: Session, oauth_settings: Settings
) -> None:
    app = make_client(db, scopes=["orders:read"])
    old = _token(http, app)
    old_kid = jws.parse_compact(old).header["kid"]
    result = rotate_signing_key(db)
    db.commit()
    assert result.retiring_kids == (old_kid,)
    new = _token(http, app)
    assert jws.parse_compact(new).header["kid"] == result.new_kid
    jwks = http.get("/.well-known/jwks.json").json()
    assert {k["kid"] for k in jwks["keys"]} == {old_kid, result.new_kid}
    keys = keys_from_jwks(jwks)
    for token in (old, new):
        verify_access_token(
            token, keys=keys, issuer=oauth_settings.issuer, audience=oauth_settings.issuer
        )

    # Once the old key's tokens have all expired, it leaves the JWKS and is marked retired.
    row = db.get(SigningKey, old_kid)
    assert row is not None and row.status == "retiring" and row.not_after is not None
    row.not_after = utcnow() - timedelta(seconds=1)
    db.commit()
    clear_signing_key_cache()
    assert {k["kid"] for k in http.get("/.well-known/jwks.json").json()["keys"]} == {result.new_kid}
    second = rotate_signing_key(db)
    db.commit()
    assert second.retired_kids == (old_kid,)
    rotated = audit_events(db, "iam.signing_key.rotated")
    assert [json.loads(e.details)["kid"] for e in rotated] == [result.new_kid, second.new_kid]


def test_private_key_is_sealed_not_in_clear(http: TestClient, db: Session) -> None:
    app = make_client(db)
    _token(http, app)
    row = db.execute(select(SigningKey)).scalars().one()
    assert b"PRIVATE KEY" not in row.sealed_private_key
    assert "d" not in row.public_jwk and row.public_jwk["crv"] == "P-256"


def test_eddsa_and_rs256_are_selectable(
    http: TestClient, db: Session, oauth_settings: Settings
) -> None:
    app = make_client(db)
    for alg in ("EdDSA", "RS256"):
        rotate_signing_key(db, alg)
        db.commit()
        token = _token(http, app)
        assert jws.parse_compact(token).header["alg"] == alg
        keys = keys_from_jwks(http.get("/.well-known/jwks.json").json())
        verify_access_token(
            token, keys=keys, issuer=oauth_settings.issuer, audience=oauth_settings.issuer
        )
