"""Alembic migrations for every table. Each domain is a branch in its own folder under
``versions/`` (``versions/iam``, ``versions/vault`` ...), so domains migrate independently;
``upgrade`` always goes to all heads."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

HERE = Path(__file__).resolve().parent


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("version_locations", str(HERE / "versions"))
    config.set_main_option("recursive_version_locations", "true")
    config.set_main_option("path_separator", "os")
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "heads") -> None:
    command.upgrade(alembic_config(engine), revision)


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def head_revisions(engine: Engine) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())


def applied_revisions(engine: Engine) -> set[str]:
    """Every revision the database has, including those implied by branch dependencies
    (alembic keeps only the newest of each line in its version table)."""
    current = current_revisions(engine)
    if not current:
        return set()
    script = ScriptDirectory.from_config(alembic_config(engine))
    return {r.revision for r in script.revision_map.iterate_revisions(tuple(current), "base")}


def is_up_to_date(engine: Engine) -> bool:
    return head_revisions(engine) <= applied_revisions(engine)
