"""Identity checks that read configuration and account state (PCI DSS 8.2, 8.3, 8.4, 8.6)."""

from __future__ import annotations

from datetime import timedelta

from compliance.checks.base import CheckContext, CheckResult, check
from iam.accounts import password_rules, repository

PCI_MAX_LOCKOUT_ATTEMPTS = 10
PCI_MIN_LOCKOUT_MINUTES = 30
PCI_MAX_IDLE_SECONDS = 15 * 60
PCI_MIN_PASSWORD_LENGTH = 12
PCI_MIN_PASSWORD_HISTORY = 4
PCI_MAX_INACTIVE_DAYS = 90
SERVICE_SECRET_MAX_AGE_DAYS = 365
OWASP_ARGON2_MEMORY_KIB, OWASP_ARGON2_ITERATIONS = 19456, 2
# Mailbox names of shared or generic accounts (8.2.2): nobody in particular is accountable.
GENERIC_LOCAL_PARTS = frozenset(
    {"admin", "administrator", "root", "shared", "team", "info", "test", "guest", "ops", "support"}
)
MFA_ROLES = ("admin", "security_staff")


@check(
    "iam.password_rules",
    title="Passwords: at least 12 characters, letters and digits, none of the last four",
    controls=["pci-dss-4.0.1:8.3.6", "pci-dss-4.0.1:8.3.7"],
)
def password_rules_check(ctx: CheckContext) -> CheckResult:
    # One sample per rule: too short, no digit, a common password padded with digits.
    weak_accepted = [
        sample
        for sample in ("kq7zr2mxw", "kqzrmxwvtplgh", "password123456")
        if not password_rules.password_problems(sample)
    ]
    observed = {
        "min_length": password_rules.MIN_LENGTH,
        "history_depth": password_rules.HISTORY_DEPTH,
        "weak_samples_accepted": len(weak_accepted),
    }
    expected = {
        "min_length": f">= {PCI_MIN_PASSWORD_LENGTH}",
        "history_depth": f">= {PCI_MIN_PASSWORD_HISTORY}",
        "weak_samples_accepted": 0,
    }
    ok = (
        password_rules.MIN_LENGTH >= PCI_MIN_PASSWORD_LENGTH
        and password_rules.HISTORY_DEPTH >= PCI_MIN_PASSWORD_HISTORY
        and not weak_accepted
    )
    return CheckResult.judge(ok, observed, expected)


@check(
    "iam.lockout_settings",
    title="Lockout after at most 10 failures, for at least 30 minutes",
    controls=["pci-dss-4.0.1:8.3.4"],
)
def lockout_settings_check(ctx: CheckContext) -> CheckResult:
    observed = {
        "lockout_threshold": ctx.settings.lockout_threshold,
        "lockout_minutes": ctx.settings.lockout_minutes,
    }
    expected = {
        "lockout_threshold": f"<= {PCI_MAX_LOCKOUT_ATTEMPTS}",
        "lockout_minutes": f">= {PCI_MIN_LOCKOUT_MINUTES}",
    }
    ok = (
        ctx.settings.lockout_threshold <= PCI_MAX_LOCKOUT_ATTEMPTS
        and ctx.settings.lockout_minutes >= PCI_MIN_LOCKOUT_MINUTES
    )
    return CheckResult.judge(ok, observed, expected)


@check(
    "iam.session_idle_timeout",
    title="Idle login sessions end after at most 15 minutes",
    controls=["pci-dss-4.0.1:8.2.8"],
)
def session_idle_timeout_check(ctx: CheckContext) -> CheckResult:
    idle = ctx.settings.session_idle_timeout
    return CheckResult.judge(
        idle <= PCI_MAX_IDLE_SECONDS,
        {"session_idle_timeout": idle},
        {"session_idle_timeout": f"<= {PCI_MAX_IDLE_SECONDS}"},
    )


@check(
    "iam.password_hashing",
    title="Stored passwords are argon2id hashes at OWASP cost or above",
    controls=["pci-dss-4.0.1:8.3.2"],
)
def password_hashing_check(ctx: CheckContext) -> CheckResult:
    memory = ctx.settings.password_hash_memory_kib
    iterations = ctx.settings.password_hash_iterations
    return CheckResult.judge(
        memory >= OWASP_ARGON2_MEMORY_KIB and iterations >= OWASP_ARGON2_ITERATIONS,
        {"memory_kib": memory, "iterations": iterations},
        {
            "memory_kib": f">= {OWASP_ARGON2_MEMORY_KIB}",
            "iterations": f">= {OWASP_ARGON2_ITERATIONS}",
        },
    )


@check(
    "iam.mfa_required_roles",
    title="Administrative roles require a second factor",
    controls=["pci-dss-4.0.1:8.4.1", "pci-dss-4.0.1:8.4.2"],
)
def mfa_required_roles_check(ctx: CheckContext) -> CheckResult:
    roles = {name: repository.get_role(ctx.session, name) for name in MFA_ROLES}
    without = sorted(
        name for name, role in roles.items() if role is not None and not role.requires_mfa
    )
    return CheckResult.judge(not without, {"roles_without_mfa": without}, {"roles_without_mfa": []})


@check(
    "iam.admins_enrolled_mfa",
    title="Every administrator who has logged in has a second factor enrolled",
    controls=["pci-dss-4.0.1:8.4.1", "pci-dss-4.0.1:8.5.1"],
)
def admins_enrolled_mfa_check(ctx: CheckContext) -> CheckResult:
    from iam.mfa.service import mfa_methods

    missing = [
        str(user.id)
        for role in MFA_ROLES
        for user in repository.users_with_role(ctx.session, role)
        if user.status == "active"
        and user.last_login_at is not None
        and not mfa_methods(ctx.session, user.id)
    ]
    return CheckResult.judge(
        not missing,
        {"administrators_without_factor": sorted(set(missing))},
        {"administrators_without_factor": []},
    )


@check(
    "iam.inactive_accounts",
    title="No active account unused for more than 90 days",
    controls=["pci-dss-4.0.1:8.2.6"],
)
def inactive_accounts_check(ctx: CheckContext) -> CheckResult:
    days = min(ctx.settings.inactive_account_days, PCI_MAX_INACTIVE_DAYS)
    stale = repository.inactive_users(
        ctx.session, last_activity_before=ctx.now - timedelta(days=days), limit=1000
    )
    return CheckResult.judge(
        not stale,
        {"inactive_accounts": sorted(str(user.id) for user in stale), "days": days},
        {"inactive_accounts": [], "days": f"<= {PCI_MAX_INACTIVE_DAYS}"},
    )


@check(
    "iam.shared_accounts",
    title="No shared or generic user accounts",
    controls=["pci-dss-4.0.1:8.2.1", "pci-dss-4.0.1:8.2.2"],
)
def shared_accounts_check(ctx: CheckContext) -> CheckResult:
    from iam.accounts.service import list_users

    generic = sorted(
        str(user.id)
        for user in list_users(ctx.session, status="active")
        if user.email.split("@", 1)[0] in GENERIC_LOCAL_PARTS
    )
    return CheckResult.judge(not generic, {"generic_accounts": generic}, {"generic_accounts": []})


@check(
    "iam.service_secret_age",
    title="Service-account secrets are changed at least once a year",
    controls=["pci-dss-4.0.1:8.6.3"],
)
def service_secret_age_check(ctx: CheckContext) -> CheckResult:
    from iam.oauth2.service import list_clients

    oldest = ctx.now - timedelta(days=SERVICE_SECRET_MAX_AGE_DAYS)
    stale = sorted(
        client.client_id
        for client in list_clients(ctx.session)
        if client.secret_hash is not None
        and (client.secret_rotated_at or client.created_at) < oldest
    )
    return CheckResult.judge(
        not stale,
        {"clients_with_old_secret": stale},
        {"clients_with_old_secret": [], "max_age_days": SERVICE_SECRET_MAX_AGE_DAYS},
    )
