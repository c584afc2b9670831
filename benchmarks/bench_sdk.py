"""SDK token verification on one core: cold (every token new: python-jose ES256 signature and
claim checks) and warm (the verified-token cache). Targets: >= 10k/s cold, >= 100k/s cached.

Real ES256 keys and a real JWKS over loopback HTTP (fetched once, as in a service)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from benchmarks.harness import Figure, Size, rate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sdk"))

from rampart_sdk import JwksCache, TokenVerifier
from tests.sdk.jwks_server import AUDIENCE, ISSUER, jwks_server


def run(size: Size) -> list[Figure]:
    count = size.pick(20_000, 2_000, 100)
    with jwks_server() as server:
        tokens = [server.sign() for _ in range(count)]
        verifier = TokenVerifier(
            issuer=ISSUER, audience=AUDIENCE, jwks=JwksCache(server.url), cache_size=0
        )
        verifier.verify(tokens[0])  # the JWKS fetch is not part of the figure
        start = time.perf_counter()
        for token in tokens:
            verifier.verify(token)
        cold = rate(count, time.perf_counter() - start)

        cached = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks=JwksCache(server.url))
        hot = tokens[: min(1000, count)]
        for token in hot:
            cached.verify(token)
        rounds = size.pick(1000, 200, 10)
        start = time.perf_counter()
        for _ in range(rounds):
            for token in hot:
                cached.verify(token)
        warm = rate(rounds * len(hot), time.perf_counter() - start)
    return [
        Figure("sdk cold ES256 verifications per second (1 core)", cold, "1/s", target=">= 10000"),
        Figure("sdk cached verifications per second (1 core)", warm, "1/s", target=">= 100000"),
    ]


if __name__ == "__main__":
    for figure in run(Size.QUICK if "--quick" in sys.argv else Size.FULL):
        print(f"{figure.name}: {figure.value:,.0f} {figure.unit} (target {figure.target})")
