"""The /device page approves `rampart login` only from a login with the second factor the
account's roles demand: a session from before the role was given (password only) is refused,
audited, and the device's request stays undecided."""

from __future__ import annotations

from typing import Any, cast

from fastapi.testclient import TestClient
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.database import unit_of_work
from iam.accounts.service import create_user
from iam.oauth2.models import DeviceAuthorization
from iam.oauth2.service import CLI_CLIENT_ID, ensure_cli_client
from iam.pages.device_endpoints import MFA_MESSAGE
from tests.cli.login_support import PASSWORD, decide
from tests.iam.pages.support import login
from tests.policies.authz_support import api, authz_settings

__all__ = ["api", "authz_settings"]  # fixtures used by name


def test_operator_role_without_mfa_is_refused_on_the_device_page(api: TestClient) -> None:
    with unit_of_work() as db:
        ensure_cli_client(db)
        user, _ = create_user(db, "op@shop.example", password=PASSWORD, roles=["staff"])
        user_id = user.id
    login(api, "op@shop.example", PASSWORD)  # password only: no role demands more yet
    with unit_of_work() as db:  # now an operator role that requires MFA
        create_user(db, "op@shop.example", roles=["staff", "security_staff"])
    started = api.post("/oauth2/device_authorization", data={"client_id": CLI_CLIENT_ID})
    assert started.status_code == 200, started.text

    refused = decide(cast(Any, api), started.json()["user_code"], "approve")
    assert refused.status_code == 403 and MFA_MESSAGE in refused.text
    with unit_of_work(read_only=True) as db:
        (row,) = db.execute(select(DeviceAuthorization)).scalars()
        assert row.status == "pending" and row.user_id is None
        events = [
            e.actor
            for e in db.execute(
                select(AuditEntry).where(AuditEntry.event_type == "oauth2.device.mfa_required")
            ).scalars()
        ]
    assert events == [f"user:{user_id}"]
