"""A real JWKS over real HTTP for the SDK tests: ES256 keys generated here, served by a tiny
http.server on a loopback port, tokens signed with python-jose."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk, jwt

ISSUER = "https://rampart.test"
AUDIENCE = "https://shop.test/orders"


@dataclass
class SigningKey:
    kid: str
    private_pem: str
    public_jwk: dict[str, Any]


def new_es256_key() -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kid = uuid.uuid4().hex[:16]
    public = jwk.construct(public_pem, "ES256").to_dict()
    public.update({"kid": kid, "alg": "ES256", "use": "sig"})
    return SigningKey(kid, pem, public)


@dataclass
class JwksServer:
    url: str
    keys: list[SigningKey] = field(default_factory=list)
    requests: int = 0

    def sign(
        self, key: SigningKey | None = None, headers: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        key = key or self.keys[0]
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "3f1c2b7e-0000-4000-8000-000000000001",
            "client_id": "shop-web",
            "exp": now + 300,
            "iat": now,
            "nbf": now,
            "jti": uuid.uuid4().hex,
            "scope": "orders:read",
        }
        body.update(claims)
        header = {"kid": key.kid, "typ": "at+jwt", **(headers or {})}
        return str(jwt.encode(body, key.private_pem, algorithm="ES256", headers=header))


@contextmanager
def jwks_server() -> Iterator[JwksServer]:
    state = JwksServer(url="", keys=[new_es256_key()])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests += 1
            payload = json.dumps({"keys": [k.public_jwk for k in state.keys]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
