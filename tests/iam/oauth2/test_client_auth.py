"""private_key_jwt client authentication: a signed assertion works once; replay, wrong key and
wrong audience are invalid_client."""

from __future__ import annotations

import time
import uuid

from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy.orm import Session

from core.settings import Settings
from tests.iam.oauth2.support import make_client

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _assertion(key: ECKey, client_id: str, audience: str, jti: str | None = None) -> str:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + 60,
              "jti": jti or uuid.uuid4().hex}  # fmt: skip
    return jwt.encode({"alg": "ES256", "kid": key.kid}, claims, key)


def test_private_key_jwt(http: TestClient, db: Session, oauth_settings: Settings) -> None:
    key = ECKey.generate_key("P-256", auto_kid=True)
    app = make_client(
        db,
        name="signer",
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [key.as_dict(private=False)]},
    )
    audience = oauth_settings.issuer + "/oauth2/token"

    def post(assertion: str) -> tuple[int, dict[str, object]]:
        response = http.post(
            "/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion,
            },
        )
        return response.status_code, response.json()

    assertion = _assertion(key, app.client_id, audience)
    assert post(assertion)[0] == 200
    status, body = post(assertion)
    assert status in (400, 401) and body["error"] == "invalid_client"
    other = ECKey.generate_key("P-256", auto_kid=True)
    assert post(_assertion(other, app.client_id, audience))[1]["error"] == "invalid_client"
    assert post(_assertion(key, app.client_id, "https://elsewhere"))[1]["error"] == "invalid_client"
