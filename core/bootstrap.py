"""First start and every start after it: data directory, schema, keys. Idempotent."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from core import migrations
from core.database import get_engine
from core.settings import Settings


@dataclass
class InitReport:
    data_dir: str
    database: str
    migrated_from: list[str]
    migrated_to: list[str]
    kms: str
    created: list[str] = field(default_factory=list)

    @property
    def fresh(self) -> bool:
        return not self.migrated_from


def ensure_data_dir(settings: Settings) -> bool:
    """Create the data directory (0700); True when it was created now."""
    path = settings.data_dir
    if path.exists():
        return False
    path.mkdir(parents=True, mode=0o700)
    os.chmod(path, 0o700)
    return True


def initialize(settings: Settings) -> InitReport:
    created: list[str] = []
    if ensure_data_dir(settings):
        created.append(f"data directory {settings.data_dir}")
    engine = get_engine()
    before = migrations.current_revisions(engine)
    migrations.upgrade(engine)
    after = migrations.current_revisions(engine)
    if before != after:
        created.append("database schema")
    created.extend(ensure_keys(settings))
    return InitReport(
        data_dir=str(settings.data_dir.resolve()),
        database=engine.url.render_as_string(hide_password=True),
        migrated_from=sorted(before),
        migrated_to=sorted(after),
        kms=settings.kms,
        created=created,
    )


def ensure_keys(settings: Settings) -> list[str]:
    """Create the key-encryption and signing keys the configured KMS needs, if missing."""
    from core.kms.service import ensure_kms_keys

    return ensure_kms_keys()
