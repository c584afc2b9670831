"""The findings lifecycle on real database rows: new → open → fixed → reopened, accepted risk
with an expiry that reopens by itself, false positives that stay, engines that cannot close each
other's findings, SLA due dates from settings, and an audit event for every transition."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.models import AuditEntry
from core.clock import utcnow
from core.database import unit_of_work
from core.kms.provider import get_key_provider
from core.settings import Settings, get_settings
from scanners import findings
from scanners.engines.base import Observation
from scanners.exceptions import TransitionRefused
from scanners.models import Finding, Scan
from scanners.targets import add_target

CSP = Observation("csp-missing", "http://shop.test/")
CORS = Observation("cors-misconfiguration", "http://shop.test/api/orders/7")
SQLI = Observation("cors-misconfiguration", "http://shop.test/search?q=1", parameter="q")


@pytest.fixture
def session(settings: Settings) -> Iterator[Session]:
    get_key_provider().ensure_keys()
    with unit_of_work() as db:
        yield db


def _scan(db: Session, engine: str = "builtin") -> Scan:
    if "target" not in db.info:
        db.info["target"] = add_target(db, name="shop", url="http://shop.test/", actor="t").id
    scan = Scan(target_id=db.info["target"], engine=engine, triggered_by="t", status="running")
    db.add(scan)
    db.flush()
    return scan


def _by_rule(db: Session) -> dict[str, Finding]:
    return {f.rule + f.parameter: f for f in db.scalars(select(Finding))}


def test_new_open_fixed_reopened_each_audited(session: Session) -> None:
    first = findings.ingest(session, _scan(session), [CSP, CORS, CORS])
    assert (first.new, first.seen) == (2, 2)
    assert {f.status for f in _by_rule(session).values()} == {"new"}
    findings.ingest(session, _scan(session), [CSP, CORS])
    assert {f.status for f in _by_rule(session).values()} == {"open"}
    gone = findings.ingest(session, _scan(session), [CORS])
    assert gone.fixed == 1 and _by_rule(session)["csp-missing"].status == "fixed"
    back = findings.ingest(session, _scan(session), [CSP, CORS])
    assert back.reopened == 1 and _by_rule(session)["csp-missing"].status == "open"
    moves = [
        (json.loads(e.details)["from"], json.loads(e.details)["to"])
        for e in session.scalars(
            select(AuditEntry)
            .where(AuditEntry.event_type == "scanners.finding_transition")
            .where(AuditEntry.resource == f"scan_finding:{_by_rule(session)['csp-missing'].id}")
            .order_by(AuditEntry.seq)
        )
    ]
    assert moves == [(None, "new"), ("new", "open"), ("open", "fixed"), ("fixed", "open")]


def test_an_incomplete_scan_or_another_engine_fixes_nothing(session: Session) -> None:
    findings.ingest(session, _scan(session, "wapiti"), [SQLI])
    assert findings.ingest(session, _scan(session, "builtin"), [CSP]).fixed == 0
    assert findings.ingest(session, _scan(session, "wapiti"), [], complete=False).fixed == 0
    assert _by_rule(session)["cors-misconfigurationq"].status == "new"
    assert findings.ingest(session, _scan(session, "wapiti"), []).fixed == 1


def test_sla_due_dates_follow_the_settings(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAMPART_SCAN_SLA_HIGH_DAYS", "3")
    get_settings.cache_clear()
    now = utcnow()
    findings.ingest(session, _scan(session), [CSP, CORS], now=now)
    rows = _by_rule(session)
    assert rows["cors-misconfiguration"].sla_due_at == now + timedelta(days=3)  # high
    assert rows["csp-missing"].sla_due_at == now + timedelta(days=90)  # medium default
    assert findings.past_sla(session, now=now + timedelta(days=4)) == [
        rows["cors-misconfiguration"]
    ]


def test_acceptance_expires_by_itself_and_false_positives_stay(session: Session) -> None:
    findings.ingest(session, _scan(session), [CSP, CORS])
    rows = _by_rule(session)
    now = utcnow()
    with pytest.raises(TransitionRefused, match="within a year"):
        findings.accept_risk(session, rows["csp-missing"].id, reason="r", approver="ciso",
                             until=now + timedelta(days=400), actor="t")  # fmt: skip
    findings.accept_risk(session, rows["csp-missing"].id, reason="legacy page, replaced in Q2",
                         approver="ciso", until=now + timedelta(days=10), actor="t")  # fmt: skip
    assert rows["csp-missing"].status == "accepted"
    assert findings.past_sla(session, now=now + timedelta(days=5)) == []
    findings.mark_false_positive(session, rows["cors-misconfiguration"].id, reason="test origin",
                                 actor="t")  # fmt: skip
    findings.ingest(session, _scan(session), [CSP, CORS])
    assert rows["cors-misconfiguration"].status == "false_positive"
    assert rows["csp-missing"].status == "accepted"
    assert findings.expire_acceptances(session, now=now + timedelta(days=11)) == 1
    assert rows["csp-missing"].status == "open"
    with pytest.raises(TransitionRefused):
        findings.mark_false_positive(session, rows["cors-misconfiguration"].id, reason="x",
                                     actor="t")  # fmt: skip
