"""Access reviews (7.2.4) on the real policy store, accounts, ledger and KMS key: who can
detokenize card numbers (directly, via a policy role, via an account role), keep and revoke
(the enforcer then denies), sign-off only when all is decided, signed evidence, the 7.2.4 check,
and the job that opens a review once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from compliance.checks import load_all
from compliance.config import ComplianceConfig
from compliance.controls import ControlLibrary
from compliance.engine import EngineDeps, run
from compliance.posture import posture
from compliance.reviews import decide, items_of, open_review_if_due, sign_off, start_review
from compliance.reviews_access import AccessScope
from compliance.reviews_exceptions import (
    GrantSharedWithKeptItem,
    NotTheReviewer,
    ReviewNotDecided,
)
from compliance.reviews_models import AccessReview
from compliance.verification import verify_evidence
from core.clock import utcnow
from core.database import unit_of_work
from core.kms.provider import get_key_provider
from iam.accounts import service as accounts
from policies import service as policy_store
from policies.runtime import PolicyRuntime

PAN = AccessScope("vault/pan", "detokenize")
CONTROL = "pci-dss-4.0.1:7.2.4"
EXTRA = (
    "p, client:checkout, rampart, vault/pan, detokenize, allow,",
    "p, role:pan_reader, rampart, vault/pan, detokenize|reveal, allow, mfa",
    "p, role:pan_reader, rampart, vault/pan, detokenize, deny, zone=public",
    "p, role:payments, *, vault/*, detokenize, allow,",
    "p, role:payments, rampart, orders, read, allow,",
    "g, client:crm, role:pan_reader, rampart",
)


@pytest.fixture
def real_library() -> ControlLibrary:
    return ComplianceConfig.from_env().library()


@pytest.fixture
def shop(deps: EngineDeps) -> dict[str, str]:
    """The built-in policy plus EXTRA; an admin, a payments clerk, a user linked in the policy."""
    with unit_of_work() as db:
        policy_store.ensure_default_policy(db)
        accounts.ensure_role(db, "payments")
        admin, _ = accounts.create_user(db, "admin@shop.example", roles=["admin"])
        clerk, _ = accounts.create_user(db, "clerk@shop.example", roles=["payments", "staff"])
        linked, _ = accounts.create_user(db, "linked@shop.example", roles=["staff"])
        officer, _ = accounts.create_user(db, "officer@shop.example", roles=["compliance_officer"])
        lines = [
            *policy_store.snapshot(db).lines,
            *EXTRA,
            f"g, user:{linked.id}, role:pan_reader, rampart",
        ]
        policy_store.apply_policy(db, lines, actor="test", reason="shop set-up")
        return {
            "admin": f"user:{admin.id}",
            "clerk": f"user:{clerk.id}",
            "linked": f"user:{linked.id}",
            "officer": f"user:{officer.id}",
        }


def _allowed(subject: str, obj: str = "vault/pan", act: str = "detokenize") -> bool:
    """The enforcer's answer for ``subject`` with its account roles, MFA and an internal IP."""
    runtime = PolicyRuntime()
    with unit_of_work(read_only=True) as db:
        snapshot = policy_store.snapshot(db)
        roles: list[str] = []
        if subject.startswith("user:"):
            user = accounts.require_user(db, subject.removeprefix("user:"))
            roles = user.roles
    runtime.load(snapshot.version, snapshot.lines)
    with runtime.view() as view:
        ctx = view.context(now=utcnow(), amr=["pwd", "mfa"], auth_time=utcnow(), ip="10.0.0.1")
        subjects = [subject, *(f"role:{role}" for role in roles)]
        return view.decide(subjects, "rampart", obj, act, ctx).allowed


def _start(library: ControlLibrary, scope: AccessScope = PAN) -> AccessReview:
    with unit_of_work() as db:
        review = start_review(db, library, actor="user:officer", scope=scope)
        db.expunge(review)
        return review


def _items(review: AccessReview) -> dict[str, list[dict[str, str]]]:
    with unit_of_work(read_only=True) as db:
        found: dict[str, list[dict[str, str]]] = {}
        for item in items_of(db, review.id):
            found.setdefault(item.subject, []).append(
                {
                    "position": str(item.position),
                    "rule": item.rule,
                    "granted_by": item.granted_by,
                    "domain": item.domain,
                    "denied_when": item.denied_when,
                }
            )
        return found


def test_generation_lists_exactly_who_can_detokenize_card_numbers(
    shop: dict[str, str], real_library: ControlLibrary
) -> None:
    review = _start(real_library)
    found = _items(review)
    assert sorted(found) == sorted(["client:checkout", "client:crm", shop["clerk"], shop["linked"]])
    assert [i["granted_by"] for i in found["client:checkout"]] == ["direct"]
    assert [i["granted_by"] for i in found["client:crm"]] == ["role:pan_reader"]
    assert [i["granted_by"] for i in found[shop["linked"]]] == ["role:pan_reader"]
    assert found[shop["linked"]][0]["denied_when"] == '["zone=public"]'
    (clerk,) = found[shop["clerk"]]
    assert clerk["granted_by"] == "account role payments" and clerk["domain"] == "*"
    # the enforcer agrees: each listed subject is allowed, the admin (denied card data) is not
    for subject in found:
        assert _allowed(subject), subject
    assert not _allowed(shop["admin"]) and not _allowed(shop["officer"])
    assert review.reviewer == "role:compliance_officer" and review.policy_version >= 2


def test_revoke_applies_through_the_store_and_keep_leaves_access(
    shop: dict[str, str], real_library: ControlLibrary
) -> None:
    review = _start(real_library)
    found = _items(review)
    before = _head()
    with unit_of_work() as db:
        decide(db, review.id, int(found["client:checkout"][0]["position"]), decision="keep",
               comment="checkout needs it", actor="user:officer")  # fmt: skip
        linked = int(found[shop["linked"]][0]["position"])
        decided = decide(
            db, review.id, linked, decision="revoke", comment="left the team", actor="user:officer"
        )
        assert [d.revoked_in_version for d in decided] == [before + 1]
        decide(db, review.id, int(found[shop["clerk"]][0]["position"]), decision="revoke",
               comment="no longer in payments", actor="user:officer")  # fmt: skip
    assert _head() == before + 1  # the account role went through the role assignment
    assert not _allowed(shop["linked"]) and not _allowed(shop["clerk"])
    assert _allowed("client:checkout") and _allowed("client:crm")
    with unit_of_work(read_only=True) as db:
        assert accounts.require_user(db, shop["clerk"].removeprefix("user:")).roles == ["staff"]
        version = policy_store.version_info(db, before + 1)
        assert version.actor == "user:officer" and version.lines_removed == 1


def test_a_shared_grant_cannot_revoke_a_kept_item(
    shop: dict[str, str], real_library: ControlLibrary
) -> None:
    review = _start(real_library, AccessScope())
    with unit_of_work(read_only=True) as db:
        clerk = [i for i in items_of(db, review.id) if i.subject == shop["clerk"]]
    by_object = {item.object: item.position for item in clerk}
    assert {"vault/*", "orders"} <= set(by_object)
    with unit_of_work() as db:
        decide(db, review.id, by_object["orders"], decision="keep", comment="ok", actor="user:o")
    with pytest.raises(GrantSharedWithKeptItem), unit_of_work() as db:
        decide(db, review.id, by_object["vault/*"], decision="revoke", comment="x", actor="user:o")
    assert _allowed(shop["clerk"])  # nothing was applied


def test_reviewer_must_hold_the_assigned_role_and_not_review_itself(
    shop: dict[str, str], real_library: ControlLibrary
) -> None:
    review = _start(real_library)
    found = _items(review)
    position = int(found["client:checkout"][0]["position"])
    with pytest.raises(NotTheReviewer), unit_of_work() as db:
        decide(db, review.id, position, decision="keep", comment="c", actor="user:a",
               acting_as=["user:a", "role:auditor"])  # fmt: skip
    with pytest.raises(NotTheReviewer), unit_of_work() as db:
        decide(db, review.id, position, decision="keep", comment="c", actor="client:checkout",
               acting_as=["client:checkout", "role:compliance_officer"])  # fmt: skip
    with unit_of_work() as db:
        decide(db, review.id, position, decision="keep", comment="c", actor=shop["officer"],
               acting_as=[shop["officer"], "role:compliance_officer"])  # fmt: skip


def test_sign_off_needs_every_decision_and_records_verifiable_evidence(
    shop: dict[str, str], deps: EngineDeps, real_library: ControlLibrary
) -> None:
    check = load_all()["compliance.access_review_age"]
    assert run(deps, real_library, checks=[check])[0].status == "fail"
    review = _start(real_library)
    positions = [int(i["position"]) for items in _items(review).values() for i in items]
    with unit_of_work() as db:
        for position in positions[:-1]:
            decide(db, review.id, position, decision="keep", comment="ok", actor="user:o")
    with pytest.raises(ReviewNotDecided), unit_of_work() as db:
        sign_off(db, real_library, get_key_provider(), review.id, actor="user:o")
    with unit_of_work() as db:
        decide(db, review.id, positions[-1], decision="keep", comment="ok", actor="user:o")
        record = sign_off(db, real_library, get_key_provider(), review.id, actor="user:o")
        assert record.check_id == "compliance.access_review_age" and record.status == "pass"
    with unit_of_work(read_only=True) as db:
        report = verify_evidence(db, [get_key_provider().public_signing_key()])
        assert report.ok and report.checked == 2, report.problems
        (item,) = [p for p in posture(db, real_library, utcnow()) if p.control_id == CONTROL]
        assert item.status == "pass", item.reasons
    assert run(deps, real_library, checks=[check])[0].status == "pass"
    with unit_of_work() as db:  # six months and a day later the check fails again
        db.execute(update(AccessReview).values(signed_off_at=utcnow() - timedelta(days=184)))
    assert run(deps, real_library, checks=[check])[0].status == "fail"


def test_the_job_opens_one_review_when_the_last_is_too_old(
    shop: dict[str, str], real_library: ControlLibrary
) -> None:
    now = utcnow()
    with unit_of_work() as db:
        assert open_review_if_due(db, real_library, now, actor="job") is not None
    with unit_of_work() as db:  # one open already: none more
        assert open_review_if_due(db, real_library, now, actor="job") is None
        db.execute(update(AccessReview).values(signed_off_at=now - timedelta(days=30)))
    with unit_of_work() as db:  # signed off a month ago: not due
        assert open_review_if_due(db, real_library, now, actor="job") is None
        db.execute(update(AccessReview).values(signed_off_at=now - timedelta(days=200)))
    with unit_of_work() as db:
        assert open_review_if_due(db, real_library, now, actor="job") is not None
        assert db.scalar(select(func.count()).select_from(AccessReview)) == 2


def _head() -> int:
    with unit_of_work(read_only=True) as db:
        return policy_store.head_version(db)
