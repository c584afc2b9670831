"""The policy store's rules: every change is a new monotonic version with who and why, audited in
the same transaction; rollback to any version is a new version equal to it. Flushes only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.audit.service import record_event
from core.clock import utcnow
from core.errors import ValidationFailed
from policies import repository, sync
from policies.document import canonical_lines, load_policy_files, policy_digest
from policies.exceptions import PolicyChangedConcurrently, PolicyVersionNotFound
from policies.models import PolicyVersion
from policies.sync import PolicyChange

DEFAULTS_DIR = Path(__file__).resolve().parent / "defaults"
DEFAULT_POLICY_FILE = DEFAULTS_DIR / "rampart.yaml"
MAX_REASON = 1000


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: int
    created_at: datetime
    actor: str
    reason: str
    source: str
    rollback_of: int | None
    lines_added: int
    lines_removed: int
    line_count: int
    digest: str


@dataclass(frozen=True, slots=True)
class PolicySnapshot:
    version: int
    lines: tuple[str, ...]


def _info(row: PolicyVersion) -> VersionInfo:
    return VersionInfo(
        version=row.version,
        created_at=row.created_at,
        actor=row.actor,
        reason=row.reason,
        source=row.source,
        rollback_of=row.rollback_of,
        lines_added=row.lines_added,
        lines_removed=row.lines_removed,
        line_count=row.line_count,
        digest=row.digest,
    )


def head_version(db: Session) -> int:
    return repository.head_version(db)


def snapshot(db: Session, version: int | None = None) -> PolicySnapshot:
    """The lines of ``version`` (default: the newest); PolicyVersionNotFound when unknown."""
    head = repository.head_version(db)
    wanted = head if version is None else version
    if wanted != 0 and repository.get_version(db, wanted) is None:
        raise PolicyVersionNotFound(f"policy version {wanted} does not exist (newest: {head})")
    rows = repository.live_lines(db, None if version is None else wanted)
    return PolicySnapshot(wanted, tuple(row.line for row in rows))


def history(db: Session, limit: int = 100) -> list[VersionInfo]:
    return [_info(row) for row in repository.list_versions(db, limit)]


def version_info(db: Session, version: int) -> VersionInfo:
    row = repository.get_version(db, version)
    if row is None:
        raise PolicyVersionNotFound(f"policy version {version} does not exist")
    return _info(row)


def diff_lines(current: Sequence[str], wanted: Sequence[str]) -> tuple[list[str], list[str]]:
    """(added, removed), each in the order of its side."""
    current_set, wanted_set = set(current), set(wanted)
    return [line for line in wanted if line not in current_set], [
        line for line in current if line not in wanted_set
    ]


def apply_policy(
    db: Session,
    raw_lines: Sequence[str],
    *,
    actor: str,
    reason: str,
    source: str = "apply",
    rollback_of: int | None = None,
) -> PolicyChange | None:
    """Make ``raw_lines`` the policy: a new version holding exactly them, or None when they
    already are the policy (no empty versions). Validates every line first (PolicyInvalid)."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("a policy change needs a reason")
    if len(reason) > MAX_REASON:
        raise ValidationFailed(f"the reason is limited to {MAX_REASON} characters")
    wanted = canonical_lines(raw_lines)
    head_row = repository.lock_head(db)
    head = head_row.version if head_row is not None else 0
    live = repository.live_lines(db)
    added, removed = diff_lines([row.line for row in live], wanted)
    if not added and not removed:
        return None
    version = head + 1
    row = PolicyVersion(
        version=version,
        created_at=utcnow(),
        actor=actor,
        reason=reason,
        source=source,
        rollback_of=rollback_of,
        lines_added=len(added),
        lines_removed=len(removed),
        line_count=len(wanted),
        digest=policy_digest(wanted),
    )
    try:
        with db.begin_nested():
            repository.add_version(db, row)
    except IntegrityError as exc:
        raise PolicyChangedConcurrently(
            f"policy version {version} was taken by a concurrent change; retry"
        ) from exc
    removed_set = set(removed)
    repository.remove_lines(db, [r.id for r in live if r.line in removed_set], version)
    repository.add_lines(db, added, version)
    db.flush()
    record_event(
        db,
        event_type="policy.changed" if source != "rollback" else "policy.rolled_back",
        actor=actor,
        resource=f"policy:{version}",
        details={
            "version": version,
            "previous_version": head,
            "source": source,
            "rollback_of": rollback_of,
            "reason": reason,
            "lines_added": len(added),
            "lines_removed": len(removed),
            "line_count": len(wanted),
            "digest": row.digest,
        },
    )
    change = PolicyChange(version=version, previous_version=head, added=added, removed=removed)
    sync.announce_after_commit(db, change)
    return change


def rollback(db: Session, to_version: int, *, actor: str, reason: str) -> PolicyChange | None:
    """A new version whose lines equal those of ``to_version`` (history is never rewritten)."""
    target = snapshot(db, to_version)
    if to_version == 0:
        raise PolicyVersionNotFound("version 0 is the empty store; roll back to a real version")
    return apply_policy(
        db, target.lines, actor=actor, reason=reason, source="rollback", rollback_of=to_version
    )


def ensure_default_policy(db: Session) -> PolicyChange | None:
    """On an empty store, Rampart's own default policy becomes version 1."""
    if repository.head_version(db) != 0:
        return None
    document = load_policy_files([DEFAULT_POLICY_FILE])
    return apply_policy(
        db,
        document.lines,
        actor="system",
        reason="built-in default policy (policies/defaults/rampart.yaml)",
        source="bootstrap",
    )


def changes_since(db: Session, version: int) -> PolicyChange:
    """The net change from ``version`` to the newest (lines removed and re-added cancel out)."""
    head = repository.head_version(db)
    added = repository.lines_added_after(db, version)
    removed = repository.lines_removed_after(db, version)
    both = set(added) & set(removed)
    return PolicyChange(
        version=head,
        previous_version=version,
        added=[line for line in added if line not in both],
        removed=[line for line in removed if line not in both],
    )
