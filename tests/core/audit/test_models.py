"""The audit migration matches the audit models exactly (on SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

import core.audit.models  # noqa: F401 - registers the tables on Base.metadata
from core.database import Base


def test_audit_models_and_migration_agree(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    audit_diff = [d for d in diff if "audit_" in repr(d)]
    assert audit_diff == []
    tables = set(inspect(engine).get_table_names())
    assert {"audit_entries", "audit_chain_head", "audit_checkpoints"} <= tables
