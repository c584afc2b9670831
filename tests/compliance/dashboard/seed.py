"""Fixed evidence for the dashboard tests, the browser tests and the screenshot: six months of
weekly signed records of the fixture library's checks, a turn for the worse in April, a waiver.

As of 2026-06-30 ``dash-pci`` has 2 passing, 1 failing (1.2, MFA failing since 2026-04-06),
1 manual due (1.3); ``dash-privacy`` 1 passing and 1 waived (art-12, failing since 2026-05-04,
waived from 2026-06-01). As of 2026-03-15 ``dash-pci`` has 3 passing and 1 manual due."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from compliance.checks.base import CheckResult, RegisteredCheck
from compliance.evidence import Outcome, record_evidence_many
from compliance.models import Waiver
from core.audit.signing import Signer

LIBRARY = Path(__file__).parent / "fixtures" / "library"
FIRST = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
WEEKS = 26  # 2026-01-05 .. 2026-06-29
AS_OF = date(2026, 6, 30)
BEFORE = date(2026, 3, 15)
MFA_FAILS_FROM = datetime(2026, 4, 6, tzinfo=UTC)
DSAR_FAILS_FROM = datetime(2026, 5, 4, tzinfo=UTC)
WAIVED_FROM = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def _check(check_id: str, controls: tuple[str, ...]) -> RegisteredCheck:
    return RegisteredCheck(check_id, check_id, controls, "read", 5.0, lambda ctx: None)  # type: ignore[arg-type,return-value]


CHECKS = {
    "dash.tls": _check("dash.tls", ("dash-pci:1.1",)),
    "dash.mfa": _check("dash.mfa", ("dash-pci:1.2",)),
    "dash.scan": _check("dash.scan", ("dash-pci:2.1",)),
    "dash.retention": _check("dash.retention", ("dash-privacy:art-5",)),
    "dash.dsar": _check("dash.dsar", ("dash-privacy:art-12",)),
}


def _result(check_id: str, at: datetime) -> CheckResult:
    if check_id == "dash.mfa" and at >= MFA_FAILS_FROM:
        return CheckResult.judge(False, {"admins_without_mfa": 1}, {"admins_without_mfa": 0},
                                 "1 administrator logs in without a second factor")  # fmt: skip
    if check_id == "dash.dsar" and at >= DSAR_FAILS_FROM:
        return CheckResult.judge(False, {"overdue": 2}, {"overdue": 0}, "2 requests overdue")
    return CheckResult.judge(True, {"ok": True}, {"ok": True})


def seed(session: Session, signer: Signer) -> None:
    """Record the history (in the caller's transaction) and the waiver."""
    outcomes = []
    for week in range(WEEKS):
        at = FIRST + timedelta(weeks=week)
        for check_id, check in CHECKS.items():
            if check_id == "dash.scan" and week % 4:
                continue
            result = _result(check_id, at)
            outcomes.append(Outcome(check, result, at - timedelta(seconds=2), at))
    record_evidence_many(session, signer, outcomes, collector="tests")
    session.add(
        Waiver(
            control_id="dash-privacy:art-12",
            reason="request backlog after the migration",
            approver="ciso@example.com",
            created_by="user:officer",
            created_at=WAIVED_FROM,
            expires_at=WAIVED_FROM + timedelta(days=120),
        )
    )
    session.flush()


def seed_operations(session: Session) -> None:
    """Findings and GDPR requests around 2026-06-30: a high finding past its SLA (due 06-15),
    a medium one with 30 days left, one fixed on 06-10; a request overdue since 06-01 and one
    extended (notice sent 06-20) to 08-01."""
    from compliance.gdpr.models import DsarRequest
    from scanners.models import Finding, ScanTarget

    target = ScanTarget(name="shop", url="https://shop.example", created_by="tests")
    session.add(target)
    session.flush()

    def finding(rule: str, risk: str, seen: datetime, due: datetime, **extra: object) -> Finding:
        extra.setdefault("status", "open")
        return Finding(
            target_id=target.id, fingerprint=rule.ljust(64, "0")[:64], engine="builtin",
            rule=rule, title=f"Finding {rule}", risk=risk, confidence="high",
            url_template="https://shop.example/", url="https://shop.example/",
            first_seen_at=seen, last_seen_at=seen, sla_due_at=due, **extra,
        )  # fmt: skip

    june = datetime(2026, 6, 1, tzinfo=UTC)
    session.add_all(
        [
            finding("hsts", "high", june, datetime(2026, 6, 15, tzinfo=UTC)),
            finding("cookie", "medium", june, datetime(2026, 7, 30, 12, tzinfo=UTC)),
            finding("banner", "low", june, datetime(2026, 8, 30, tzinfo=UTC),
                    **{"status": "fixed", "fixed_at": datetime(2026, 6, 10, tzinfo=UTC)}),
        ]
    )  # fmt: skip

    def dsar(received: datetime, due: datetime, **extra: object) -> DsarRequest:
        return DsarRequest(
            type="access", subject="customer-1", email=None, channel="portal", state="received",
            purposes="[]", received_at=received, due_at=due, paused_days=0, **extra,
        )  # fmt: skip

    session.add_all(
        [
            dsar(datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)),
            dsar(datetime(2026, 5, 20, tzinfo=UTC), datetime(2026, 6, 20, tzinfo=UTC),
                 extended_due_at=datetime(2026, 8, 1, tzinfo=UTC),
                 extension_notified_at=datetime(2026, 6, 19, tzinfo=UTC),
                 extension_reason="complex"),
        ]
    )  # fmt: skip
    session.flush()
