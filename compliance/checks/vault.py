"""Vault probes and reads (PCI DSS 3.3, 3.4, 3.5; GDPR 5(1)(e), 17): a canary card number goes in
through the real API and must never come back unmasked without a purpose and a permission;
sensitive authentication data does not outlive its authorization; expired tokens are purged."""

from __future__ import annotations

from datetime import timedelta

from compliance.checks.base import CheckContext, CheckResult, check
from compliance.checks.canary import canary_token
from vault.repository import count_expired

# A test card number (Luhn-valid, of a test BIN): never a real customer's.
CANARY_PAN = "4111111111111111"
CANARY_PURPOSE = "compliance.probe"
PURGE_GRACE = timedelta(days=1)  # the purge job runs hourly; a day of slack, then it is a finding
PCI_MAX_SAD_TTL_SECONDS = 3600
TOKENIZE_AND_METADATA = ("p, {client}, rampart, vault/pan, tokenize|metadata|delete, allow,",)
TOKENIZE_AND_DETOKENIZE = ("p, {client}, rampart, vault/pan, tokenize|detokenize|delete, allow,",)


@check(
    "vault.masked_pan_probe",
    title="A canary card number never comes back unmasked from metadata or a reveal",
    controls=["pci-dss-4.0.1:3.4.1", "pci-dss-4.0.1:3.4.2"],
    kind="probe",
    timeout_seconds=30,
)
def masked_pan_probe(ctx: CheckContext) -> CheckResult:
    with canary_token(ctx, TOKENIZE_AND_METADATA, "pan", CANARY_PAN) as canary:
        if isinstance(canary, CheckResult):
            return canary
        token, headers = canary.token, canary.headers
        answers = {
            "tokenize": canary.created,
            "metadata": ctx.http.post(
                "/v1/vault/pan/metadata", json={"token": token}, headers=headers
            ),
            "reveal_without_permission": ctx.http.post(
                "/v1/vault/pan/reveal", json={"token": token}, headers=headers
            ),
        }
    leaking = sorted(name for name, answer in answers.items() if CANARY_PAN in answer.text)
    statuses = {name: answer.status_code for name, answer in answers.items()}
    return CheckResult.judge(
        not leaking and statuses["reveal_without_permission"] == 403,
        {"answers": statuses, "full_pan_in": leaking},
        {"full_pan_in": [], "reveal_without_permission": 403},
        target=ctx.base_url + "/v1/vault/pan",
    )


@check(
    "vault.detokenize_purpose_probe",
    title="Detokenizing is refused without a declared purpose, even to a permitted client",
    controls=[
        "pci-dss-4.0.1:3.4.2",
        "pci-dss-4.0.1:7.2.5",
        "pci-dss-4.0.1:10.2.1.1",
        "gdpr:art-5.1.b",
    ],
    kind="probe",
    timeout_seconds=30,
)
def detokenize_purpose_probe(ctx: CheckContext) -> CheckResult:
    with canary_token(ctx, TOKENIZE_AND_DETOKENIZE, "pan", CANARY_PAN) as canary:
        if isinstance(canary, CheckResult):
            return canary
        token, headers = canary.token, canary.headers
        without = ctx.http.post("/v1/vault/pan/detokenize", json={"token": token}, headers=headers)
        blank = ctx.http.post(
            "/v1/vault/pan/detokenize", json={"token": token, "purpose": ""}, headers=headers
        )
        declared = ctx.http.post(
            "/v1/vault/pan/detokenize",
            json={"token": token, "purpose": CANARY_PURPOSE},
            headers=headers,
        )
    refused = [
        r for r in (without, blank) if 400 <= r.status_code < 500 and CANARY_PAN not in r.text
    ]
    observed = {
        "without_purpose": without.status_code,
        "blank_purpose": blank.status_code,
        "with_purpose": declared.status_code,
    }
    # The declared-purpose call shows the refusals were about the purpose, not the permission.
    return CheckResult.judge(
        len(refused) == 2 and declared.status_code == 200,
        observed,
        {"without_purpose": "4xx", "blank_purpose": "4xx", "with_purpose": 200},
        target=ctx.base_url + "/v1/vault/pan/detokenize",
    )


@check(
    "vault.sad_not_retained",
    title="Sensitive authentication data expires within an hour and is purged after it",
    controls=[
        "pci-dss-4.0.1:3.3.1",
        "pci-dss-4.0.1:3.3.1.1",
        "pci-dss-4.0.1:3.3.1.2",
        "pci-dss-4.0.1:3.2.1",
    ],
)
def sad_not_retained_check(ctx: CheckContext) -> CheckResult:
    ttl = ctx.settings.vault_sad_ttl_seconds
    lingering = count_expired(ctx.session, ctx.now - PURGE_GRACE, None)
    return CheckResult.judge(
        ttl <= PCI_MAX_SAD_TTL_SECONDS and lingering == 0,
        {"sad_ttl_seconds": ttl, "expired_tokens_not_purged": lingering},
        {"sad_ttl_seconds": f"<= {PCI_MAX_SAD_TTL_SECONDS}", "expired_tokens_not_purged": 0},
    )


@check(
    "vault.no_deterministic_card_data",
    title="Card data and SAD are never tokenized deterministically (no guessing oracle)",
    controls=["pci-dss-4.0.1:3.5.1", "pci-dss-4.0.1:3.5.1.1"],
)
def no_deterministic_card_data_check(ctx: CheckContext) -> CheckResult:
    deterministic = set(ctx.settings.vault_deterministic_types)
    risky = sorted(deterministic & {"pan", "cvc", "sad"})
    return CheckResult.judge(
        not risky,
        {"deterministic_types": sorted(deterministic)},
        {"deterministic_card_types": []},
    )


@check(
    "vault.proxy_tls_only",
    title="The outbound vault proxy forwards card data over https only, to public hosts",
    controls=["pci-dss-4.0.1:4.2.1"],
)
def proxy_tls_only_check(ctx: CheckContext) -> CheckResult:
    observed = {
        "allow_http": ctx.settings.vault_proxy_allow_http,
        "allow_private_networks": ctx.settings.vault_proxy_allow_private_networks,
    }
    return CheckResult.judge(
        not any(observed.values()), observed, {"allow_http": False, "allow_private_networks": False}
    )
