"""The iam migration branch matches the accounts, MFA and sessions models exactly."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

import iam.accounts.models
import iam.mfa.models
import iam.sessions.models  # noqa: F401
from core.database import Base

OWN_PREFIXES = ("iam_users", "iam_roles", "iam_user_roles", "iam_password_history",
                "iam_login_throttles", "iam_totp_credentials", "iam_recovery_codes",
                "iam_webauthn_credentials", "iam_login_sessions", "iam_secret_keys")  # fmt: skip


def _table_of(diff: Any) -> str:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:]:
        name = getattr(part, "name", None)
        table = getattr(part, "table", None)
        if table is not None and getattr(table, "name", None):
            return str(table.name)
        if isinstance(part, str) and part.startswith("iam_"):
            return part
        if name and str(name).startswith("iam_"):
            return str(name)
    return ""


def _only_ours(name: str | None, type_: str, parent_names: Any) -> bool:
    if type_ == "table":
        return name in OWN_PREFIXES
    return True


def test_models_and_iam_migration_agree(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "include_name": _only_ours},
        )
        diff = compare_metadata(context, Base.metadata)
        tables = set(inspect(connection).get_table_names())
    ours = [d for d in diff if _table_of(d) in OWN_PREFIXES]
    assert ours == [], f"iam models and migration differ: {ours}"
    assert set(OWN_PREFIXES) <= tables
