"""The policy store as the syncer reads it: each call its own short read-only unit of work."""

from __future__ import annotations

from core.database import unit_of_work
from policies import service
from policies.exceptions import PolicyChangedConcurrently
from policies.sync import PolicyChange


class DatabasePolicyStore:
    """Reads the newest policy; seeds the built-in default policy into an empty store once."""

    def load(self) -> tuple[int, list[str]]:
        with unit_of_work(read_only=True) as db:
            head = service.head_version(db)
        if head == 0:
            try:
                with unit_of_work() as db:
                    service.ensure_default_policy(db)
            except PolicyChangedConcurrently:
                pass  # another process seeded it first: same outcome
        with unit_of_work(read_only=True) as db:
            snapshot = service.snapshot(db)
        return snapshot.version, list(snapshot.lines)

    def head_version(self) -> int:
        with unit_of_work(read_only=True) as db:
            return service.head_version(db)

    def changes_since(self, version: int) -> PolicyChange:
        with unit_of_work(read_only=True) as db:
            return service.changes_since(db, version)
