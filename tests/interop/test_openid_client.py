"""Interop: npm openid-client v6 (certified relying party) and npm jose run the whole flow
against the real server; python-jose verifies the same tokens against the published JWKS."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
from jose import jwt as jose_jwt

from core.database import unit_of_work
from core.settings import Settings
from iam.accounts.service import create_user
from iam.oauth2.schemas import ClientSpec
from iam.oauth2.service import apply_client

PASSWORD = "correct horse 42 battery"
EMAIL = "interop@example.com"


def _register(redirect_uri: str) -> tuple[str, str]:
    with unit_of_work() as db:
        create_user(db, EMAIL, password=PASSWORD, name="Interop", email_verified=True)
        applied = apply_client(
            db,
            ClientSpec(
                name="interop-rp",
                grant_types=["authorization_code", "refresh_token", "client_credentials"],
                redirect_uris=[redirect_uri],
                scopes=["openid", "email", "profile", "orders:read"],
                first_party=True,
            ),
        )
        assert applied.client_secret is not None
        return applied.client.client_id, applied.client_secret


def test_openid_client_runs_the_whole_flow(
    node_project: Path, live_server: str, live_settings: Settings
) -> None:
    redirect_uri = "http://127.0.0.1:9/callback"
    client_id, secret = _register(redirect_uri)
    node = shutil.which("node")
    assert node is not None
    run = subprocess.run(
        [node, str(node_project / "flow.mjs")],
        env={
            **os.environ,
            "ISSUER": live_server,
            "CLIENT_ID": client_id,
            "CLIENT_SECRET": secret,
            "REDIRECT_URI": redirect_uri,
            "EMAIL": EMAIL,
            "PASSWORD": PASSWORD,
        },
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, "node relying party failed: " + run.stderr.decode()[-2000:]
    result = json.loads(run.stdout)
    assert result["discovery"] == {"issuer": live_server, "pkce": True}
    assert result["callbackHasIss"] is True
    assert result["idToken"]["email"] == EMAIL and result["idToken"]["nonce"] is True
    assert result["idToken"]["amr"] == ["pwd"]
    assert result["userinfo"] == {"sub": result["idToken"]["sub"], "email": EMAIL}
    assert result["jose"]["accessTyp"] == "at+jwt" and result["jose"]["accessClient"] == client_id
    assert result["jose"]["idSub"] == result["idToken"]["sub"]
    assert result["jose"]["idTokenRefusedAsAccessToken"] is True
    assert result["refresh"] == {"rotated": True, "hasAccess": True, "reuseRefused": True}
    assert result["clientCredentials"] == "ok"
    assert result["revocation"] == {"activeAfterRevoke": False}

    # python-jose, a third implementation, agrees with the JWKS.
    jwks = httpx.get(live_server + "/.well-known/jwks.json").json()
    tokens = result["tokens"]
    access = jose_jwt.decode(
        tokens["access"], jwks, algorithms=["ES256"], audience=live_server, issuer=live_server
    )
    id_claims = jose_jwt.decode(
        tokens["id"], jwks, algorithms=["ES256"], audience=client_id, issuer=live_server,
        access_token=tokens["access"],
    )  # fmt: skip
    assert access["sub"] == id_claims["sub"] == result["idToken"]["sub"]
    assert jose_jwt.get_unverified_header(tokens["access"])["typ"] == "at+jwt"
