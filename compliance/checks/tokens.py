"""Probes of the token service as a relying party sees it (PCI DSS 8.3.1, 8.3.2, 3.6.1): the
advertised algorithms, the published keys, and client authentication at the token endpoint."""

from __future__ import annotations

import base64
import secrets
from typing import Any

from compliance.checks.base import CheckContext, CheckResult, check

# Asymmetric algorithms only: ``none`` forges tokens, HS* lets every verifier mint them too.
WEAK_ALGORITHMS = {"none", "HS256", "HS384", "HS512"}
MIN_RSA_BITS = 2048
STRONG_CURVES = {"P-256", "P-384", "P-521", "Ed25519", "Ed448"}
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k"}


def _key_problem(key: dict[str, Any]) -> str | None:
    kid = key.get("kid", "?")
    if PRIVATE_MEMBERS & key.keys():
        return f"{kid}: private key material published"
    if key.get("alg") in WEAK_ALGORITHMS or key.get("kty") == "oct":
        return f"{kid}: symmetric or no algorithm"
    if key.get("kty") == "RSA":
        modulus = base64.urlsafe_b64decode(str(key.get("n", "")) + "==")
        if len(modulus) * 8 < MIN_RSA_BITS:
            return f"{kid}: RSA key of {len(modulus) * 8} bits"
    elif key.get("crv") not in STRONG_CURVES:
        return f"{kid}: curve {key.get('crv')!r}"
    return None


@check(
    "iam.token_signing_probe",
    title="Tokens are signed asymmetrically (no none, no HS*) with keys of P-256 strength or more",
    controls=["pci-dss-4.0.1:4.2.1", "pci-dss-4.0.1:8.3.2"],
    kind="probe",
)
def token_signing_probe(ctx: CheckContext) -> CheckResult:
    discovery = ctx.http.get("/.well-known/openid-configuration").json()
    advertised = set(discovery.get("id_token_signing_alg_values_supported", []))
    jwks_uri = str(discovery.get("jwks_uri", "/.well-known/jwks.json"))
    keys = ctx.http.get(jwks_uri).json().get("keys", [])
    problems = [p for p in (_key_problem(key) for key in keys) if p]
    weak = sorted(advertised & WEAK_ALGORITHMS)
    observed = {
        "advertised_algorithms": sorted(advertised),
        "published_keys": len(keys),
        "key_problems": problems,
    }
    expected = {"weak_algorithms": [], "published_keys": "> 0", "key_problems": []}
    return CheckResult.judge(
        not weak and bool(keys) and not problems, observed, expected, target=jwks_uri
    )


@check(
    "iam.client_authentication_probe",
    title="The token endpoint refuses unknown clients and wrong client secrets",
    controls=["pci-dss-4.0.1:8.3.1", "pci-dss-4.0.1:8.6.1"],
    kind="probe",
)
def client_authentication_probe(ctx: CheckContext) -> CheckResult:
    discovery = ctx.http.get("/.well-known/openid-configuration").json()
    endpoint = str(discovery.get("token_endpoint", "/oauth2/token"))
    answers = {}
    unknown = (f"canary-{secrets.token_hex(6)}", secrets.token_urlsafe(24))
    for case in ("unknown_client", "no_credentials"):
        grant = {"grant_type": "client_credentials"}
        response = (
            ctx.http.post(endpoint, data=grant, auth=unknown)
            if case == "unknown_client"
            else ctx.http.post(endpoint, data=grant)
        )
        answers[case] = response.status_code
        if response.status_code == 200:
            break
    refused = all(status in (400, 401) for status in answers.values())
    return CheckResult.judge(
        refused, {"answers": answers}, {"answers": "400 or 401 for each"}, target=endpoint
    )
