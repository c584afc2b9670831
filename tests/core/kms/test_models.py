"""The kms migration creates exactly what core/kms/models.py declares, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.engine import Engine

from core.kms.models import DataKey


def test_data_keys_table_matches_the_model(engine: Engine) -> None:
    only_kms = MetaData(naming_convention=DataKey.metadata.naming_convention)
    DataKey.metadata.tables["data_keys"].to_metadata(only_kms)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_name": lambda name, kind, _parent: kind != "table" or name == "data_keys",
            },
        )
        diff = compare_metadata(context, only_kms)
    assert diff == []
