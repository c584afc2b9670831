"""Scan-fed checks on the real database with real scanner rows: a real built-in scan of the
weak shop, and scans recorded through the scanners' own services (``create_scan``, ``ingest``,
``accept_risk``, ``mark_false_positive``). They pass on a fresh scan with findings inside their
SLA and fail on a stale or missing scan and on an active finding past its SLA; accepted risks
and false positives do not count, an expired acceptance does."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from compliance.checks.scanning import SCAN_CONTROL, scan_cadence
from compliance.controls import default_library
from compliance.engine import Scope, default_deps
from compliance.engine import run as run_engine
from compliance.models import EvidenceRecord
from compliance.posture import ControlPosture, posture
from core.clock import utcnow
from core.database import get_sessionmaker, unit_of_work
from core.settings import Settings, get_settings
from scanners.engines.base import Observation
from scanners.findings import accept_risk, ingest, mark_false_positive, past_sla
from scanners.models import Finding
from scanners.runner import create_scan, execute_scan
from scanners.targets import add_target
from tests.compliance.checks.conftest import ContextFactory, run
from tests.fixtures.local_apps import serve_app
from tests.scanners.shops import CARD, PLANTED, build_weak_shop

RECENT, SLA = "scanning.recent_scan", "scanning.findings_within_sla"


@pytest.fixture(scope="module")
def weak_scan_shop() -> Iterator[str]:
    with serve_app(build_weak_shop()) as url:
        yield url


@pytest.fixture(autouse=True)
def scan_settings(keyed_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAMPART_SCAN_ALLOW_PRIVATE_NETWORKS", "true")  # the shops are local
    get_settings.cache_clear()


def _target(name: str) -> None:
    with unit_of_work() as session:
        add_target(session, name=name, url=f"https://{name}.shop.example/", actor="t")


def _scan(
    name: str,
    finished_at: datetime,
    observations: Sequence[Observation] = (),
    *,
    status: str = "complete",
) -> list[str]:
    """One ``status`` scan of target ``name`` that ended at ``finished_at``; a complete one has
    ingested ``observations`` as the runner does. Returns the ids of the findings it saw."""
    with unit_of_work() as session:
        scan = create_scan(session, name, "builtin", actor="t")
        if status == "complete":
            ingest(session, scan, observations, now=finished_at)
        scan.status, scan.started_at, scan.finished_at = status, finished_at, finished_at
        session.flush()
        seen = session.scalars(select(Finding.id).where(Finding.last_scan_id == scan.id))
        return sorted(str(finding_id) for finding_id in seen)


def _issues(name: str) -> list[Observation]:
    """Three findings on target ``name``: medium, low and high (a card number in the evidence)."""
    base = f"https://{name}.shop.example"
    return [
        Observation("csp-missing", f"{base}/"),
        Observation("server-version-disclosure", f"{base}/", evidence="nginx/1.18.0"),
        Observation("card-number-disclosure", f"{base}/orders/1001", evidence=f"card {CARD}"),
    ]


def _overdue_ids(result_observed: dict[str, object]) -> list[str]:
    overdue = result_observed["overdue"]
    assert isinstance(overdue, list)
    return sorted(item["id"] for item in overdue)


def test_no_registered_target_fails_both_with_a_clear_detail(read_context: ContextFactory) -> None:
    recent = run(RECENT, read_context())
    assert recent.status == "fail"
    assert recent.detail.startswith("no scan targets registered")
    assert recent.observed == {"targets": {}, "stale_targets": []}
    sla = run(SLA, read_context())
    assert sla.status == "fail"
    assert sla.detail.startswith("no complete scan of any registered target")


def test_a_real_builtin_scan_of_the_weak_shop_passes_then_goes_stale_and_past_sla(
    read_context: ContextFactory, weak_scan_shop: str
) -> None:
    with unit_of_work() as session:
        add_target(session, name="weak", url=weak_scan_shop, actor="t")
        scan_id = create_scan(session, "weak", "builtin", actor="t").id
    done = execute_scan(scan_id, factory=get_sessionmaker())
    assert done["status"] == "complete", done["error"]
    finished = datetime.fromisoformat(done["finished_at"])

    recent = run(RECENT, read_context())
    assert recent.status == "pass", recent.detail
    assert recent.observed["targets"]["weak"] == {
        "last_complete_scan": finished.isoformat(),
        "engine": "builtin",
        "scan_id": str(scan_id),
    }
    assert run(SLA, read_context()).status == "pass"

    later = finished + timedelta(days=400)  # past three months and past every default SLA
    stale = run(RECENT, read_context(now=later))
    assert stale.status == "fail"
    assert stale.observed["stale_targets"] == ["weak"]
    overdue = run(SLA, read_context(now=later))
    assert overdue.status == "fail"
    with unit_of_work(read_only=True) as session:
        active = session.scalars(select(Finding).where(Finding.status.in_(["new", "open"])))
        expected_ids = sorted(str(finding.id) for finding in active)
    assert overdue.observed["overdue_count"] == len(expected_ids) >= len(PLANTED)
    assert _overdue_ids(overdue.observed) == expected_ids
    assert {item["rule"] for item in overdue.observed["overdue"]} >= PLANTED
    assert {item["target"] for item in overdue.observed["overdue"]} == {"weak"}
    # ids, rules and targets only: no URL, no evidence, no card number in the signed evidence
    assert all("evidence" not in item and "url" not in item for item in overdue.observed["overdue"])
    assert CARD not in repr(overdue) and CARD[-4:] not in repr(overdue.observed)


def test_the_frequency_is_the_controls_and_every_target_needs_a_complete_scan(
    read_context: ContextFactory, keyed_settings: Settings
) -> None:
    assert str(scan_cadence(keyed_settings)) == "P3M"  # read from the library's 11.3.1
    now = utcnow()
    _target("front")
    _target("api")
    _scan("front", now - timedelta(days=80))
    _scan("api", now - timedelta(days=1), status="failed")  # a failed scan does not count
    result = run(RECENT, read_context())
    assert result.status == "fail"
    assert result.observed["stale_targets"] == ["api"]
    assert result.observed["targets"]["api"]["last_complete_scan"] is None
    assert "api" in result.detail and "front" not in result.detail

    _scan("api", now - timedelta(days=2))
    assert run(RECENT, read_context()).status == "pass"
    # front's scan of 80 days ago stops counting three months after it ended
    expiry = scan_cadence(keyed_settings).expires(now - timedelta(days=80))
    assert run(RECENT, read_context(now=expiry - timedelta(seconds=1))).status == "pass"
    at_expiry = run(RECENT, read_context(now=expiry))
    assert at_expiry.status == "fail"
    assert at_expiry.observed["stale_targets"] == ["front"]


def test_accepted_risks_and_false_positives_do_not_count_and_a_rescan_clears_the_rest(
    read_context: ContextFactory,
) -> None:
    now = utcnow()
    _target("shop")
    ids = _scan("shop", now - timedelta(days=200), _issues("shop"))  # every SLA (<= 120 d) passed
    assert len(ids) == 3
    failing = run(SLA, read_context())
    assert failing.status == "fail"
    assert _overdue_ids(failing.observed) == ids
    assert failing.detail.startswith("3 active finding(s) past their SLA due date")

    with unit_of_work() as session:
        rows = {f.rule: f for f in session.scalars(select(Finding))}
        accepted, false_positive = rows["csp-missing"], rows["server-version-disclosure"]
        remaining = str(rows["card-number-disclosure"].id)
        accept_risk(session, accepted.id, reason="WAF adds the header", approver="ciso",
                    until=now + timedelta(days=30), actor="t")  # fmt: skip
        mark_false_positive(session, false_positive.id, reason="version is a decoy", actor="t")
    result = run(SLA, read_context())
    assert result.status == "fail"
    assert _overdue_ids(result.observed) == [remaining]
    assert result.observed["overdue"][0]["rule"] == "card-number-disclosure"

    # a complete rescan that no longer sees the card number fixes it: nothing is overdue then
    _scan("shop", now - timedelta(minutes=1), [])
    cleared = run(SLA, read_context())
    assert cleared.status == "pass", cleared.detail
    assert cleared.observed == {"overdue_count": 0, "overdue": []}


def test_a_finding_inside_its_sla_passes_and_an_expired_acceptance_counts_as_past_sla(
    read_context: ContextFactory,
) -> None:
    now = utcnow()
    _target("shop")
    _scan("shop", now - timedelta(days=1), _issues("shop"))
    assert run(SLA, read_context()).status == "pass"  # high SLA is 30 days: 29 left

    with unit_of_work() as session:
        card = session.scalars(
            select(Finding).where(Finding.rule == "card-number-disclosure")
        ).one()
        card_id, due = str(card.id), card.sla_due_at
        accept_risk(session, card.id, reason="tokenised next sprint", approver="ciso",
                    until=now + timedelta(days=60), actor="t")  # fmt: skip
    # past the high SLA, acceptance still running: the accepted risk does not count
    assert run(SLA, read_context(now=due + timedelta(days=1))).status == "pass"
    # past the acceptance too: it is an open finding again, overdue, as past_sla() says
    later = now + timedelta(days=61)
    result = run(SLA, read_context(now=later))
    assert result.status == "fail"
    with get_sessionmaker()() as session:
        expected = sorted(str(finding.id) for finding in past_sla(session, now=later))
        session.rollback()  # past_sla re-opened the acceptance: leave the rows as they were
    assert card_id in expected
    assert _overdue_ids(result.observed) == expected
    with unit_of_work(read_only=True) as session:  # the check itself wrote nothing
        assert session.get(Finding, card.id).status == "accepted"  # type: ignore[union-attr]


def test_the_engine_records_both_as_evidence_and_11_3_1_turns_from_failing_to_manual_due(
    keyed_settings: Settings,
) -> None:
    """Through the engine (its read-only sessions, signed evidence) and the posture: an overdue
    finding makes 11.3.1 failing; once a rescan fixed it only the manual slot is left."""
    library, scope = default_library(), Scope(control=SCAN_CONTROL)
    now = utcnow()
    _target("shop")
    _scan("shop", now - timedelta(days=200), _issues("shop"))
    _scan("shop", now - timedelta(days=1), _issues("shop")[2:])  # the card number is still seen

    def state() -> tuple[dict[str, str], ControlPosture]:
        results = {item.check: item.status for item in run_engine(default_deps(), library, scope)}
        with unit_of_work(read_only=True) as session:
            (control,) = (
                p for p in posture(session, library, utcnow()) if p.control_id == scope.control
            )
        return results, control

    results, control = state()
    assert results == {RECENT: "pass", SLA: "fail"}
    assert control.status == "failing"
    assert f"{SLA} failed" in control.reasons
    with unit_of_work(read_only=True) as session:
        stored = session.scalars(select(EvidenceRecord.observed)).all()
    assert stored and not any(CARD in text or CARD[-4:] in text for text in stored)

    _scan("shop", now, [])  # the rescan confirms the resolution
    results, control = state()
    assert results == {RECENT: "pass", SLA: "pass"}
    assert (control.status, control.reasons) == ("manual-due", ("manual evidence not uploaded",))
