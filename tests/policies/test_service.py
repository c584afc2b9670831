"""The policy store: monotonic versions with who and why, audited in the same transaction,
any version readable, rollback as a new version, net changes for the replicas."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from core.database import unit_of_work
from core.errors import ValidationFailed
from policies import service
from policies.enforcer import PolicyInvalid
from policies.exceptions import PolicyVersionNotFound
from policies.runtime import PolicyRuntime
from tests.policies.authz_support import audit_entries

A = "p, role:clerk, shop, orders/:id, read, allow,"
B = "p, role:clerk, shop, orders/:id, write, allow, mfa"
LINK = "g, user:ann, role:clerk, shop"


def test_each_change_is_a_new_version_with_who_and_why(engine: Engine) -> None:
    with unit_of_work() as db:
        first = service.apply_policy(db, [A, LINK], actor="user:sec", reason="clerks read")
    with unit_of_work() as db:
        second = service.apply_policy(db, [A, B, LINK], actor="user:sec", reason="clerks write")
    assert first is not None and second is not None
    assert (first.version, second.version) == (1, 2)
    assert (second.added, second.removed) == ([B], [])
    with unit_of_work(read_only=True) as db:
        history = service.history(db)
        assert [(v.version, v.actor, v.reason) for v in history] == [
            (2, "user:sec", "clerks write"),
            (1, "user:sec", "clerks read"),
        ]
        assert history[0].line_count == 3 and history[0].lines_added == 1
        assert service.snapshot(db, 1).lines == (A, LINK)
        assert service.snapshot(db).lines == (A, LINK, B)
        events = audit_entries(db, "policy.changed")
    assert [e.resource for e in events] == ["policy:1", "policy:2"]
    assert events[-1].actor == "user:sec" and '"reason":"clerks write"' in events[-1].details


def test_an_unchanged_policy_makes_no_version(engine: Engine) -> None:
    with unit_of_work() as db:
        service.apply_policy(db, [A], actor="t", reason="one")
    with unit_of_work() as db:
        # Same set, other spelling and order: canonical lines compare equal.
        assert (
            service.apply_policy(
                db, ["p,role:clerk,shop,orders/:id,read,allow,"], actor="t", reason="again"
            )
            is None
        )
        assert service.head_version(db) == 1


def test_rollback_to_any_version_is_a_new_version(engine: Engine) -> None:
    for lines in ([A], [A, B], [B, LINK]):
        with unit_of_work() as db:
            service.apply_policy(db, lines, actor="t", reason="step")
    with unit_of_work() as db:
        change = service.rollback(db, 1, actor="user:sec", reason="incident 42")
    assert change is not None and change.version == 4
    assert sorted(change.removed) == sorted([B, LINK]) and change.added == [A]
    with unit_of_work(read_only=True) as db:
        assert service.snapshot(db).lines == (A,)
        info = service.version_info(db, 4)
        assert (info.source, info.rollback_of, info.reason) == ("rollback", 1, "incident 42")
        assert [e.resource for e in audit_entries(db, "policy.rolled_back")] == ["policy:4"]
        with pytest.raises(PolicyVersionNotFound):
            service.snapshot(db, 9)


def test_a_failed_change_writes_neither_version_nor_audit(engine: Engine) -> None:
    with pytest.raises(PolicyInvalid, match="line 2"), unit_of_work() as db:
        service.apply_policy(db, [A, "p, role:x, shop, o, read, maybe,"], actor="t", reason="x")
    with pytest.raises(ValidationFailed, match="reason"), unit_of_work() as db:
        service.apply_policy(db, [A], actor="t", reason="  ")
    with unit_of_work(read_only=True) as db:
        assert service.head_version(db) == 0
        assert audit_entries(db, "policy.changed") == []


def test_changes_since_give_the_net_delta_a_replica_applies(engine: Engine) -> None:
    with unit_of_work() as db:
        service.apply_policy(db, [A, LINK], actor="t", reason="1")
    with unit_of_work() as db:
        service.apply_policy(db, [B], actor="t", reason="2")
    with unit_of_work() as db:
        service.apply_policy(db, [A, B], actor="t", reason="3")  # A comes back: no net change
    with unit_of_work(read_only=True) as db:
        change = service.changes_since(db, 1)
        full = service.snapshot(db)
    assert change.version == 3 and change.added == [B] and change.removed == [LINK]
    replica = PolicyRuntime()
    replica.load(1, [A, LINK])
    assert replica.apply_delta(1, 3, change.added, change.removed)
    assert sorted(replica.lines()) == sorted(full.lines)


def test_the_default_policy_seeds_an_empty_store_once(engine: Engine) -> None:
    with unit_of_work() as db:
        first = service.ensure_default_policy(db)
    with unit_of_work() as db:
        assert service.ensure_default_policy(db) is None
    assert first is not None and first.version == 1 and len(first.added) > 20
    with unit_of_work(read_only=True) as db:
        assert service.version_info(db, 1).source == "bootstrap"
