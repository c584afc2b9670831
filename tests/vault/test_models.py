"""The vault's tables as migrated equal the vault's models (alembic autogenerate finds nothing)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

import vault.models  # noqa: F401 - registers the vault tables on Base.metadata
from core.database import Base


def _touches_vault(diff: Any) -> bool:
    return "vault_" in repr(diff)


def test_vault_models_and_migration_agree(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert [d for d in diff if _touches_vault(d)] == []
    assert {"vault_tokens", "vault_keys"} <= set(Base.metadata.tables)
