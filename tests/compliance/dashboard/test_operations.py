"""Findings with SLA clocks, the GDPR queue, access reviews, the ledger viewer with its live
verification, key and policy changes: as of a day, through the real guard."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.audit.models import AuditEntry
from tests.compliance.dashboard.conftest import Browser
from tests.compliance.dashboard.seed import AS_OF, seed_operations
from tests.core.audit.conftest import tamper

pytestmark = pytest.mark.usefixtures("seeded")
FINDING_ROW = r'<tr data-finding="[^"]+"( class="overdue")?>\s*<th[^>]*>Finding (\w+)'


@pytest.fixture
def operations(db: Session, seeded: None) -> None:
    seed_operations(db)
    db.commit()


def test_findings_carry_their_sla_clock(browser: Browser, operations: None) -> None:
    client = browser("compliance_officer")
    page = client.get(f"/dashboard/findings?as_of={AS_OF}")
    assert page.status_code == 200, page.text
    rows = re.findall(FINDING_ROW, page.text)
    assert [(rule, bool(overdue)) for overdue, rule in rows] == [("hsts", True), ("cookie", False)]
    assert "overdue by 15 days" in page.text and "<td>30</td>" in page.text
    closed = client.get(f"/dashboard/findings?as_of={AS_OF}&include_closed=true").text
    assert "Finding banner" in closed
    # On 06-05 the fixed one was still open and nothing was overdue.
    before = client.get("/dashboard/findings?as_of=2026-06-05").text
    assert "Finding banner" in before and "overdue by" not in before
    assert "Finding hsts" not in client.get("/dashboard/findings?as_of=2026-05-31").text


def test_the_gdpr_queue_shows_deadlines_as_of_the_day(browser: Browser, operations: None) -> None:
    client = browser("compliance_officer")
    page = client.get(f"/dashboard/requests?as_of={AS_OF}")
    assert page.status_code == 200, page.text
    assert "2 open, 1 overdue" in page.text
    assert "<td>2026-08-01</td>" in page.text and "customer-1" not in page.text
    # Before the extension notice the second request was due 06-20: not yet overdue on 06-18.
    early = client.get("/dashboard/requests?as_of=2026-06-18").text
    assert "2 open, 1 overdue" in early and "2026-08-01" not in early


def test_the_ledger_is_searched_and_paged_as_of_a_day(browser: Browser, db: Session) -> None:
    client = browser("compliance_officer")
    page = client.get("/dashboard/ledger?event_type=compliance.evidence")
    assert page.status_code == 200, page.text
    seqs = [int(s) for s in re.findall(r'data-seq="(\d+)"', page.text)]
    assert len(seqs) == 50 and seqs == sorted(seqs, reverse=True)
    (older,) = re.findall(r'rel="next" href="([^"]+)"', page.text)
    second = client.get(older.replace("&amp;", "&")).text
    more = [int(s) for s in re.findall(r'data-seq="(\d+)"', second)]
    assert more and max(more) < min(seqs)
    total = db.query(AuditEntry).filter(AuditEntry.event_type == "compliance.evidence").count()
    assert len(seqs) + len(more) == min(total, 100)
    # The entries were appended today (occurred_at is the append time): none by 2026-01-01.
    none = client.get("/dashboard/ledger?as_of=2026-01-01&event_type=compliance.evidence")
    assert re.findall(r'data-seq="(\d+)"', none.text) == []
    by_actor = client.get("/dashboard/ledger?actor=nobody-at-all").text
    assert re.findall(r'data-seq="(\d+)"', by_actor) == []


def test_the_ledger_verification_is_live(browser: Browser, db: Session) -> None:
    client = browser("compliance_officer")
    page = client.get("/dashboard/ledger/verification")
    assert page.status_code == 200, page.text
    assert "The chain verifies" in page.text
    entry = db.query(AuditEntry).order_by(AuditEntry.seq).first()
    assert entry is not None
    seq = entry.seq
    db.close()
    engine = db.get_bind()
    assert isinstance(engine, Engine)
    tamper(engine, "UPDATE audit_entries SET actor = 'mallory' WHERE seq = :seq", seq=seq)
    broken = client.get("/dashboard/ledger/verification").text
    assert "The chain does not verify" in broken and f"entry {seq}" in broken


def test_reviews_and_changes_pages_answer(browser: Browser) -> None:
    client = browser("compliance_officer")
    reviews = client.get("/dashboard/reviews")
    assert reviews.status_code == 200 and "Access reviews" in reviews.text
    changes = client.get("/dashboard/changes")
    assert changes.status_code == 200
    assert re.findall(r'data-version="(\d+)"', changes.text)  # the bootstrap policy version
    early = client.get("/dashboard/changes?as_of=2026-01-01").text
    assert re.findall(r'data-version="(\d+)"', early) == []
