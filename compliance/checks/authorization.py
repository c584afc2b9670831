"""Zero-trust probes of the live API (PCI DSS 7.2): no ``/v1`` route answers without a token,
a client no rule names is refused, and the policy gives nobody card data by a wildcard."""

from __future__ import annotations

import re
from typing import Any

from compliance.checks.base import CheckContext, CheckResult, check
from compliance.checks.canary import TOKEN_REFUSED, bearer_headers, canary_client

_PATH_PARAMETER = re.compile(r"\{[^}]+\}")
# Answers that show the guard stopped the request before any handler ran.
REFUSED = (401, 403)
# A route a client without rules is asked to use: reads only, so the probe changes nothing.
DEFAULT_DENY_TARGETS = (("GET", "/v1/vault/stats"), ("GET", "/v1/policies"))


def _fields(line: str) -> list[str]:
    """A canonical policy line's fields: ``p, subject, domain, resource, actions, effect, cond``."""
    return [field.strip() for field in line.split(",")]


def _v1_operations(spec: dict[str, Any]) -> list[tuple[str, str]]:
    operations: list[tuple[str, str]] = []
    for path, item in sorted(spec.get("paths", {}).items()):
        if not path.startswith("/v1/"):
            continue
        for method in item:
            if method in ("get", "post", "put", "patch", "delete"):
                operations.append((method.upper(), _PATH_PARAMETER.sub("probe", path)))
    return operations


@check(
    "authz.unauthenticated_probe",
    title="Every /v1 route refuses a request without a bearer token",
    controls=[
        "pci-dss-4.0.1:7.2.1",
        "pci-dss-4.0.1:7.3.1",
        "pci-dss-4.0.1:8.2.1",
        "pci-dss-4.0.1:8.3.1",
    ],
    kind="probe",
    timeout_seconds=60,
)
def unauthenticated_probe(ctx: CheckContext) -> CheckResult:
    spec = ctx.http.get("/openapi.json").json()
    operations = _v1_operations(spec)
    answered = []
    for method, path in operations:
        response = ctx.http.request(method, path, json={} if method != "GET" else None)
        if response.status_code != 401:
            answered.append(f"{method} {path} -> {response.status_code}")
    return CheckResult.judge(
        bool(operations) and not answered,
        {"routes_probed": len(operations), "answered_without_token": answered},
        {"routes_probed": "> 0", "answered_without_token": []},
        target=ctx.base_url,
    )


@check(
    "authz.default_deny_probe",
    title="A client that no policy rule names is refused (deny by default)",
    controls=[
        "pci-dss-4.0.1:7.2.2",
        "pci-dss-4.0.1:7.2.5",
        "pci-dss-4.0.1:7.3.2",
        "pci-dss-4.0.1:7.3.3",
    ],
    kind="probe",
    timeout_seconds=30,
)
def default_deny_probe(ctx: CheckContext) -> CheckResult:
    with canary_client(ctx) as client:
        headers = bearer_headers(ctx, client)
        if headers is None:
            return TOKEN_REFUSED
        answers = {
            f"{method} {path}": ctx.http.request(method, path, headers=headers).status_code
            for method, path in DEFAULT_DENY_TARGETS
        }
    allowed = {route: status for route, status in answers.items() if status != 403}
    return CheckResult.judge(
        not allowed, {"answers": answers}, {"answers": "403 for each"}, target=ctx.base_url
    )


@check(
    "authz.no_wildcard_card_access",
    title="No policy rule lets every subject, or every service, read card data",
    controls=["pci-dss-4.0.1:7.2.1", "pci-dss-4.0.1:7.2.2", "pci-dss-4.0.1:3.4.2"],
)
def no_wildcard_card_access_check(ctx: CheckContext) -> CheckResult:
    from policies import service as policies

    broad = []
    for line in policies.snapshot(ctx.session).lines:
        fields = _fields(line)
        if len(fields) < 6 or fields[0] != "p" or fields[5] != "allow":
            continue
        subject, resource, actions = fields[1], fields[3], fields[4]
        reads_cards = resource in ("*", "vault/*", "vault/pan", "vault/cvc", "vault/sad") and (
            actions == "*" or bool({"detokenize", "reveal"} & set(actions.split("|")))
        )
        if reads_cards and (subject in ("*", "role:service") or subject.endswith("*")):
            broad.append(line)
    return CheckResult.judge(not broad, {"broad_rules": broad}, {"broad_rules": []})


@check(
    "authz.admin_separation_of_duties",
    title="Administrators are denied card data in clear (separation of duties)",
    controls=["pci-dss-4.0.1:7.2.2", "pci-dss-4.0.1:7.2.6"],
)
def admin_separation_check(ctx: CheckContext) -> CheckResult:
    from policies import service as policies

    # A deny whose actions cover both reads (it may name more, e.g. fingerprint).
    denied: set[str] = set()
    for line in policies.snapshot(ctx.session).lines:
        fields = _fields(line)
        if fields[:3] != ["p", "role:admin", "rampart"] or len(fields) < 6 or fields[5] != "deny":
            continue
        actions = set(fields[4].split("|"))
        if "*" in actions or {"detokenize", "reveal"} <= actions:
            denied.add(fields[3])
    missing = [f"vault/{kind}" for kind in ("pan", "cvc", "sad") if f"vault/{kind}" not in denied]
    return CheckResult.judge(not missing, {"missing_denials": missing}, {"missing_denials": []})
