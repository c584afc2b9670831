"""Probes of the login itself, through the real login pages with a canary account: lockout
(PCI DSS 8.3.4) and the second factor demanded of administrators (8.4.2)."""

from __future__ import annotations

import secrets

from compliance.checks.base import CheckContext, CheckResult, check
from compliance.checks.canary import browser, canary_user, submit_login
from core.database import unit_of_work

PCI_MAX_LOCKOUT_ATTEMPTS = 10


@check(
    "iam.lockout_probe",
    title="A canary account is locked after at most 10 wrong passwords at the real login page",
    controls=["pci-dss-4.0.1:8.3.4"],
    kind="probe",
    timeout_seconds=60,
)
def lockout_probe(ctx: CheckContext) -> CheckResult:
    from iam.accounts.service import get_user_by_email

    attempts = int(ctx.options.get("lockout_attempts", PCI_MAX_LOCKOUT_ATTEMPTS))
    with canary_user(ctx) as canary, browser(ctx) as client:
        refused = 0
        for _ in range(attempts):
            wrong = submit_login(client, canary.email, secrets.token_urlsafe(16))
            refused += wrong.status_code == 401
        # Locked: even the right password is refused now (with the same answer as a wrong one).
        right = submit_login(client, canary.email, canary.password)
        with unit_of_work(ctx.sessions, read_only=True) as db:
            user = get_user_by_email(db, canary.email)
            locked = bool(user and user.locked_until and user.locked_until > ctx.now)
    observed = {
        "wrong_passwords_sent": attempts,
        "wrong_passwords_refused": refused,
        "right_password_after": right.status_code,
        "account_locked": locked,
    }
    expected = {
        "wrong_passwords_refused": attempts,
        "right_password_after": 401,
        "account_locked": True,
    }
    ok = refused == attempts and right.status_code == 401 and locked
    return CheckResult.judge(ok, observed, expected, target=ctx.base_url + "/login")


@check(
    "iam.admin_mfa_probe",
    title="An administrator's password alone does not complete a login",
    controls=["pci-dss-4.0.1:8.4.2", "pci-dss-4.0.1:8.4.1"],
    kind="probe",
    timeout_seconds=30,
)
def admin_mfa_probe(ctx: CheckContext) -> CheckResult:
    from iam.accounts.service import get_user_by_email
    from iam.mfa.service import mfa_methods

    with canary_user(ctx, roles=["admin"]) as canary, browser(ctx) as client:
        response = submit_login(client, canary.email, canary.password)
        location = response.headers.get("location", "")
        account = client.get("/account")
        with unit_of_work(ctx.sessions, read_only=True) as db:
            user = get_user_by_email(db, canary.email)
            enrolled = bool(user and mfa_methods(db, user.id))
    stopped = response.status_code in (302, 303) and location.startswith(
        ("/account/totp", "/login/mfa")
    )
    # Without a second factor the session may only reach enrolment, not the account itself.
    observed = {
        "login_status": response.status_code,
        "redirected_to": location.split("?", 1)[0],
        "account_page_status": account.status_code,
        "factor_enrolled": enrolled,
    }
    expected = {"redirected_to": "/account/totp or /login/mfa", "account_page_status": "not 200"}
    return CheckResult.judge(
        stopped and account.status_code != 200, observed, expected, target=ctx.base_url + "/login"
    )
