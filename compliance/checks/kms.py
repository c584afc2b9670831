"""Key-management checks (PCI DSS 3.6, 3.7; GDPR Article 32): the key-encryption key within its
cryptoperiod, no data key left under a retired key version, the local key file closed to others,
every live data key wrapped."""

from __future__ import annotations

import stat
from datetime import datetime

from sqlalchemy import func, select

from compliance.checks.base import CheckContext, CheckResult, check
from core.kms import repository
from core.kms.models import DataKey
from core.kms.provider import get_key_provider

KEK_CRYPTOPERIOD_DAYS = 365


@check(
    "kms.kek_cryptoperiod",
    title="The key-encryption key was created or rotated within its one-year cryptoperiod",
    controls=["pci-dss-4.0.1:3.6.1", "pci-dss-4.0.1:3.7.4"],
)
def kek_cryptoperiod_check(ctx: CheckContext) -> CheckResult:
    info = get_key_provider().info()
    created = datetime.fromisoformat(info.created_at) if info.created_at else None
    age_days = (ctx.now - created).days if created else None
    return CheckResult.judge(
        age_days is not None and age_days <= KEK_CRYPTOPERIOD_DAYS,
        {"provider": info.provider, "latest_version": info.latest_version, "age_days": age_days},
        {"age_days": f"<= {KEK_CRYPTOPERIOD_DAYS}"},
        target=f"kek:{info.name}",
    )


@check(
    "kms.retired_versions_rewrapped",
    title="No live data key is still wrapped under a retired key-encryption key version",
    controls=["pci-dss-4.0.1:3.7.4", "pci-dss-4.0.1:3.7.5"],
)
def retired_versions_check(ctx: CheckContext) -> CheckResult:
    latest = get_key_provider().info().latest_version
    pending = repository.count_to_rewrap(ctx.session, below_version=latest)
    return CheckResult.judge(
        pending == 0,
        {"latest_version": latest, "data_keys_to_rewrap": pending},
        {"data_keys_to_rewrap": 0},
    )


@check(
    "kms.local_key_file_permissions",
    title="The local key file is readable by its owner only (0600)",
    controls=["pci-dss-4.0.1:3.6.1.2", "pci-dss-4.0.1:3.6.1.3", "gdpr:art-32"],
)
def local_key_file_check(ctx: CheckContext) -> CheckResult:
    if ctx.settings.kms != "local":
        return CheckResult("not_applicable", {"kms": ctx.settings.kms}, {"kms": "local"},
                           "keys live in Vault/OpenBao Transit, not in a file")  # fmt: skip
    path = ctx.settings.resolved_local_key_file
    if not path.exists():
        return CheckResult("fail", {"exists": False}, {"exists": True}, target=str(path))
    mode = stat.S_IMODE(path.stat().st_mode)
    return CheckResult.judge(
        mode & 0o077 == 0, {"mode": oct(mode)}, {"mode": "0o600 or stricter"}, target=str(path)
    )


@check(
    "kms.data_keys_wrapped",
    title="Every live data-encryption key is stored wrapped, never in clear",
    controls=[
        "pci-dss-4.0.1:3.5.1",
        "pci-dss-4.0.1:3.6.1.2",
        "pci-dss-4.0.1:3.3.2",
        "pci-dss-4.0.1:3.7.3",
        "gdpr:art-32",
        "gdpr:art-5.1.f",
    ],
)
def data_keys_wrapped_check(ctx: CheckContext) -> CheckResult:
    unwrapped = ctx.session.scalar(
        select(func.count())
        .select_from(DataKey)
        .where(DataKey.wrapped.is_(None), DataKey.destroyed_at.is_(None))
    )
    live = sum(repository.count_live_by_kek_version(ctx.session).values())
    return CheckResult.judge(
        unwrapped == 0,
        {"live_data_keys": live, "live_without_wrapping": unwrapped},
        {"live_without_wrapping": 0},
    )


@check(
    "kms.provider_reachable",
    title="The key-management service answers (requests fail closed without it)",
    controls=["pci-dss-4.0.1:3.7.3", "pci-dss-4.0.1:10.7.2"],
    kind="probe",
)
def provider_reachable_probe(ctx: CheckContext) -> CheckResult:
    answer = ctx.http.get("/readyz")
    body = (
        answer.json()
        if answer.headers.get("content-type", "").startswith("application/json")
        else {}
    )
    return CheckResult.judge(
        answer.status_code == 200,
        {"readyz": answer.status_code, "checks": body.get("checks", body)},
        {"readyz": 200},
        target=ctx.base_url + "/readyz",
    )
