"""The SDK's local verification with real ES256 keys and a real JWKS over HTTP: every RFC 9068
check, the verified-token cache, and the rate-limited refetch on an unknown kid."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from jose import jwt

from rampart_sdk import JwksCache, TokenInvalid, TokenVerifier
from tests.sdk.jwks_server import AUDIENCE, ISSUER, JwksServer, jwks_server, new_es256_key


@pytest.fixture
def server() -> Iterator[JwksServer]:
    with jwks_server() as running:
        yield running


def _verifier(server: JwksServer, **kwargs: object) -> TokenVerifier:
    jwks = JwksCache(server.url, min_refetch_seconds=kwargs.pop("min_refetch", 10.0))  # type: ignore[arg-type]
    return TokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks=jwks, **kwargs)  # type: ignore[arg-type]


def test_a_valid_token_verifies_and_exposes_its_caller(server: JwksServer) -> None:
    verifier = _verifier(server)
    token = verifier.verify(server.sign(amr=["pwd", "mfa"], auth_time=int(time.time())))
    assert token.subject == "3f1c2b7e-0000-4000-8000-000000000001"
    assert token.casbin_subject == "user:3f1c2b7e-0000-4000-8000-000000000001"
    assert token.amr == ("pwd", "mfa") and token.scopes == {"orders:read"}
    service = verifier.verify(server.sign(sub="shop-web"))
    assert service.is_service and service.casbin_subject == "client:shop-web"


@dataclass(frozen=True)
class FromNow:
    seconds: int


@pytest.mark.parametrize(
    ("claims", "headers", "reason"),
    [
        ({"iss": "https://evil.test"}, {}, "wrong issuer"),
        ({"aud": "https://other.test"}, {}, "wrong audience"),
        ({"exp": FromNow(-120)}, {}, "expired"),
        ({"nbf": FromNow(600)}, {}, "not yet valid"),
        ({}, {"typ": "JWT"}, "not an access token"),
    ],
)
def test_each_claim_and_header_check_refuses(
    server: JwksServer, claims: dict[str, Any], headers: dict[str, str], reason: str
) -> None:
    # Times are taken when the test runs, not when it is collected: a long suite outlived a
    # 600 s "not yet valid" fixed at collection.
    claims = {k: int(time.time()) + v.seconds if isinstance(v, FromNow) else v
              for k, v in claims.items()}  # fmt: skip
    with pytest.raises(TokenInvalid) as refused:
        _verifier(server).verify(server.sign(headers=headers, **claims))
    assert refused.value.reason == reason


def test_a_wrong_issuer_or_audience_names_the_expected_and_the_actual_value(
    server: JwksServer,
) -> None:
    # The usual mistake: the server moved to another port, the verifier still expects :8000.
    verifier = _verifier(server)
    with pytest.raises(TokenInvalid) as wrong_issuer:
        verifier.verify(server.sign(iss="http://127.0.0.1:9000"))
    assert (
        str(wrong_issuer.value) == f"wrong issuer: expected {ISSUER!r}, got 'http://127.0.0.1:9000'"
    )
    assert (wrong_issuer.value.expected, wrong_issuer.value.actual) == (
        ISSUER,
        "http://127.0.0.1:9000",
    )
    with pytest.raises(TokenInvalid) as wrong_audience:
        verifier.verify(server.sign(aud=["https://a.test", "https://b.test"]))
    assert str(wrong_audience.value) == (
        f"wrong audience: expected {AUDIENCE!r}, got ['https://a.test', 'https://b.test']"
    )
    assert wrong_audience.value.reason == "wrong audience"


def test_clock_skew_is_tolerated_up_to_its_bound(server: JwksServer) -> None:
    verifier = _verifier(server, clock_skew_seconds=30)
    assert verifier.verify(server.sign(exp=int(time.time()) - 10)).subject
    with pytest.raises(TokenInvalid, match="expired"):
        verifier.verify(server.sign(exp=int(time.time()) - 60))


def test_a_forged_signature_and_an_hmac_confusion_are_refused(server: JwksServer) -> None:
    verifier = _verifier(server)
    good = server.sign()
    head, payload, signature = good.split(".")
    with pytest.raises(TokenInvalid, match="bad signature"):
        verifier.verify(f"{head}.{payload}.{signature[::-1]}")
    # HS256 keyed with the public JWK text: the classic alg confusion.
    public = str(server.keys[0].public_jwk)
    forged = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60},
        public,
        algorithm="HS256",
        headers={"kid": server.keys[0].kid, "typ": "at+jwt"},
    )
    with pytest.raises(TokenInvalid, match="algorithm not allowed"):
        verifier.verify(forged)


def test_an_unknown_kid_refetches_once_per_interval_and_finds_rotated_keys(
    server: JwksServer,
) -> None:
    verifier = _verifier(server, min_refetch=0.5)
    verifier.verify(server.sign())
    assert server.requests == 1
    stranger = new_es256_key()  # never published
    for _ in range(20):
        with pytest.raises(TokenInvalid, match="unknown kid"):
            verifier.verify(server.sign(key=stranger))
    assert server.requests == 1  # within the interval: no refetch storm
    rotated = new_es256_key()
    server.keys.append(rotated)
    time.sleep(0.6)
    assert verifier.verify(server.sign(key=rotated)).subject
    assert server.requests == 2


def test_verified_tokens_are_cached_until_they_expire(server: JwksServer) -> None:
    verifier = _verifier(server, clock_skew_seconds=0, cache_size=2)
    token = server.sign(exp=int(time.time()) + 2)
    first = verifier.verify(token)
    assert verifier.verify(token) is first  # from the cache
    for _ in range(3):
        verifier.verify(server.sign())  # evicts the oldest
    assert verifier.verify(token) is not first  # verified anew
    time.sleep(2.1)
    with pytest.raises(TokenInvalid, match="expired"):
        verifier.verify(token)
