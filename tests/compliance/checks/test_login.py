"""Login probes through the real login pages: lockout (8.3.4), the administrator's second factor
(8.4.2); and the reads of the identity settings they rest on."""

from __future__ import annotations

from sqlalchemy import select

from compliance.checks.canary import CANARY_DOMAIN
from core.database import unit_of_work
from iam.accounts.models import User
from iam.accounts.service import ensure_role
from tests.compliance.checks.conftest import ContextFactory, run


def _canaries_left() -> list[str]:
    with unit_of_work(read_only=True) as db:
        emails = db.scalars(select(User.email)).all()
    return [email for email in emails if email.endswith(CANARY_DOMAIN)]


def test_lockout_probe_passes_on_rampart_and_fails_when_fewer_attempts_than_allowed_lock(
    live_context: ContextFactory,
) -> None:
    locked = run("iam.lockout_probe", live_context())
    assert locked.status == "pass", locked
    assert locked.observed["account_locked"] is True
    # A policy demanding lockout after 5 failures is not met by a server that locks after 10.
    stricter = run("iam.lockout_probe", live_context(options={"lockout_attempts": 5}))
    assert stricter.status == "fail", stricter
    assert stricter.observed["right_password_after"] != 401
    assert _canaries_left() == []


def test_lockout_probe_fails_on_a_shop_without_lockout(
    live_context: ContextFactory, weak_shop: str
) -> None:
    result = run("iam.lockout_probe", live_context(url=weak_shop))
    assert result.status == "fail", result
    assert _canaries_left() == []


def test_admin_mfa_probe_passes_and_fails_once_the_admin_role_drops_mfa(
    live_context: ContextFactory,
) -> None:
    result = run("iam.admin_mfa_probe", live_context())
    assert result.status == "pass", result
    with unit_of_work() as db:
        ensure_role(db, "admin", requires_mfa=False)
    weakened = run("iam.admin_mfa_probe", live_context())
    assert weakened.status == "fail", weakened
    assert weakened.observed["account_page_status"] == 200
    assert _canaries_left() == []
