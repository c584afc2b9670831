"""GDPR checks: storage limitation (Article 5(1)(e)), records of processing (30), encryption at
rest and erasure by crypto-shredding (32, 17), privacy by default (25)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from functools import cache
from typing import Any

import yaml

from compliance.checks.base import CheckContext, CheckResult, check
from compliance.checks.canary import canary_token
from vault.repository import count_expired

PURGE_GRACE = timedelta(days=1)


RECORD_FIELDS = ("name", "purpose", "legal_basis", "data_categories", "data_subjects", "retention")
LEGAL_BASES = {"consent", "contract", "legal_obligation", "vital_interests", "public_task",
               "legitimate_interests"}  # fmt: skip


@cache
def data_categories() -> frozenset[str]:
    """Every data-category key of the fideslang default taxonomy (imported on first use: the
    compliance reads of the CLI list checks without loading it)."""
    from fideslang.default_taxonomy import DEFAULT_TAXONOMY

    return frozenset(category.fides_key for category in DEFAULT_TAXONOMY.data_category)


CANARY_SUBJECT_VALUE = "canary@example.invalid"
ERASURE_RULES = ("p, {client}, rampart, vault/*, tokenize|detokenize|erase|delete, allow,",)


@check(
    "gdpr.storage_limitation",
    title="No token is kept past its retention: expired values are purged within a day",
    controls=["gdpr:art-5.1.e", "pci-dss-4.0.1:3.2.1"],
)
def storage_limitation_check(ctx: CheckContext) -> CheckResult:
    lingering = count_expired(ctx.session, ctx.now - PURGE_GRACE, None)
    return CheckResult.judge(
        lingering == 0, {"expired_tokens_not_purged": lingering}, {"expired_tokens_not_purged": 0}
    )


def _record_problems(index: int, record: Any) -> list[str]:
    if not isinstance(record, dict):
        return [f"activity {index}: not a mapping"]
    problems = [f"activity {index}: no {name}" for name in RECORD_FIELDS if not record.get(name)]
    if record.get("legal_basis") and record["legal_basis"] not in LEGAL_BASES:
        problems.append(f"activity {index}: legal basis {record['legal_basis']!r} is not Article 6")
    unknown = sorted(set(record.get("data_categories") or []) - data_categories())
    if unknown:
        problems.append(f"activity {index}: unknown data categories {unknown}")
    return problems


@check(
    "gdpr.records_of_processing",
    title="Records of processing exist: purpose, legal basis, categories, subjects, retention",
    controls=["gdpr:art-30", "gdpr:art-6", "gdpr:art-5.2"],
)
def records_of_processing_check(ctx: CheckContext) -> CheckResult:
    path = ctx.settings.compliance_processing_records
    if path is None or not path.is_file():
        return CheckResult(
            "fail", {"records": None}, {"records": "a YAML file"},
            "set RAMPART_COMPLIANCE_PROCESSING_RECORDS to the records of processing activities",
        )  # fmt: skip
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    activities = data.get("activities", []) if isinstance(data, dict) else []
    problems = [
        p for index, record in enumerate(activities) for p in _record_problems(index, record)
    ]
    return CheckResult.judge(
        bool(activities) and not problems,
        {"activities": len(activities), "problems": problems},
        {"activities": "> 0", "problems": []},
        target=str(path),
    )


@check(
    "gdpr.privacy_by_default",
    title="Personal data gets random tokens unless deterministic ones are chosen per type",
    controls=["gdpr:art-25"],
)
def privacy_by_default_check(ctx: CheckContext) -> CheckResult:
    deterministic = sorted(ctx.settings.vault_deterministic_types)
    personal = [
        kind for kind in deterministic if kind in ("national_id", "iban", "name", "address")
    ]
    return CheckResult.judge(
        not personal,
        {"deterministic_personal_types": personal},
        {"deterministic_personal_types": []},
    )


@check(
    "gdpr.erasure_probe",
    title="Erasing a canary subject makes its tokenized data unreadable (crypto-shredding)",
    controls=["gdpr:art-17", "gdpr:art-32"],
    kind="probe",
    timeout_seconds=30,
)
def erasure_probe(ctx: CheckContext) -> CheckResult:
    subject = f"canary-subject-{secrets.token_hex(6)}"
    with canary_token(ctx, ERASURE_RULES, "email", CANARY_SUBJECT_VALUE, subject) as canary:
        if isinstance(canary, CheckResult):
            return canary
        headers = canary.headers
        purpose = {"token": canary.token, "purpose": "compliance.probe"}
        before = ctx.http.post("/v1/vault/email/detokenize", json=purpose, headers=headers)
        erased = ctx.http.post(
            "/v1/vault/subjects/erase", json={"subject": subject}, headers=headers
        )
        after = ctx.http.post("/v1/vault/email/detokenize", json=purpose, headers=headers)
    observed = {
        "detokenize_before": before.status_code,
        "erase": erased.status_code,
        "detokenize_after": after.status_code,
        "value_after_erasure": CANARY_SUBJECT_VALUE in after.text,
    }
    ok = before.status_code == 200 and erased.status_code == 200 and after.status_code == 410
    return CheckResult.judge(
        ok and not observed["value_after_erasure"],
        observed,
        {"detokenize_before": 200, "erase": 200, "detokenize_after": 410},
        target=ctx.base_url + "/v1/vault",
    )
