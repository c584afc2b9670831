"""Audit-ledger checks (PCI DSS 10.2, 10.3, 10.5): the chain verifies end to end, entries carry
the 10.2.2 fields, retention is long enough, checkpoints are signed often, requests are logged."""

from __future__ import annotations

from datetime import UTC
from email.utils import parsedate_to_datetime

from compliance.checks.base import CheckContext, CheckResult, check
from compliance.checks.canary import browser, canary_user, submit_login
from core.audit import repository
from core.audit.verification import verify
from core.database import unit_of_work
from core.kms.provider import get_key_provider

PCI_RETENTION_DAYS, PCI_ONLINE_DAYS = 365, 90
MAX_CHECKPOINT_SECONDS = 3600
MAX_CLOCK_SKEW_SECONDS = 5  # the HTTP Date header has a resolution of one second
FIELD_SAMPLE = 1000
# PCI DSS 10.2.2: who, what, when, outcome, origin (where the request came from), what it touched.
REQUIRED_FIELDS = ("actor", "event_type", "occurred_at", "outcome", "origin", "resource")


@check(
    "audit.ledger_verification",
    title="The audit ledger's hash chain and signed checkpoints verify end to end",
    controls=["pci-dss-4.0.1:10.3.2", "pci-dss-4.0.1:10.3.4", "pci-dss-4.0.1:10.2.1"],
    kind="probe",
    timeout_seconds=120,
)
def ledger_verification_probe(ctx: CheckContext) -> CheckResult:
    result = verify(ctx.session, [get_key_provider().public_signing_key()])
    problem = result.problem
    return CheckResult.judge(
        result.ok,
        {
            "entries": result.count,
            "checkpoints_verified": result.checkpoints_verified,
            "first_problem": None
            if problem is None
            else {"seq": problem.seq, "kind": problem.kind.value},
        },
        {"first_problem": None},
        target="audit-ledger",
    )


@check(
    "audit.entry_fields",
    title="Recent ledger entries record who, what, when, outcome, origin and resource",
    controls=["pci-dss-4.0.1:10.2.2"],
)
def entry_fields_check(ctx: CheckContext) -> CheckResult:
    entries = repository.recent_entries(ctx.session, FIELD_SAMPLE)
    incomplete: dict[str, int] = {}
    for entry in entries:
        for name in ("actor", "event_type", "occurred_at", "outcome"):
            if not getattr(entry, name):
                incomplete[name] = incomplete.get(name, 0) + 1
    # origin and resource are optional per entry (a scheduled job has no client address), but a
    # ledger where no entry ever records them is not recording them at all.
    for name in ("origin", "resource"):
        if entries and not any(getattr(entry, name) for entry in entries):
            incomplete[name] = len(entries)
    return CheckResult.judge(
        bool(entries) and not incomplete,
        {"sampled": len(entries), "missing_fields": incomplete},
        {"sampled": "> 0", "missing_fields": {}, "fields": list(REQUIRED_FIELDS)},
    )


@check(
    "audit.retention",
    title="Audit history is kept 12 months, the last 3 immediately available",
    controls=["pci-dss-4.0.1:10.5.1"],
)
def retention_check(ctx: CheckContext) -> CheckResult:
    kept, online = ctx.settings.audit_retention_days, ctx.settings.audit_online_days
    return CheckResult.judge(
        kept >= PCI_RETENTION_DAYS and online >= PCI_ONLINE_DAYS and online <= kept,
        {"retention_days": kept, "online_days": online},
        {"retention_days": f">= {PCI_RETENTION_DAYS}", "online_days": f">= {PCI_ONLINE_DAYS}"},
    )


@check(
    "audit.checkpoint_interval",
    title="The ledger is signed at least hourly, so tampering is detectable",
    controls=["pci-dss-4.0.1:10.3.2", "pci-dss-4.0.1:10.3.4"],
)
def checkpoint_interval_check(ctx: CheckContext) -> CheckResult:
    seconds = ctx.settings.audit_checkpoint_seconds
    return CheckResult.judge(
        0 < seconds <= MAX_CHECKPOINT_SECONDS,
        {"audit_checkpoint_seconds": seconds},
        {"audit_checkpoint_seconds": f"<= {MAX_CHECKPOINT_SECONDS}"},
    )


@check(
    "audit.access_logging",
    title="Every HTTP request is logged (user access to the control plane, 10.2.1.1)",
    controls=["pci-dss-4.0.1:10.2.1.1", "pci-dss-4.0.1:10.2.1"],
)
def access_logging_check(ctx: CheckContext) -> CheckResult:
    return CheckResult.judge(
        ctx.settings.access_log, {"access_log": ctx.settings.access_log}, {"access_log": True}
    )


@check(
    "audit.failed_logins_recorded",
    title="Failed logins reach the ledger with their outcome (10.2.1.4)",
    controls=["pci-dss-4.0.1:10.2.1.4"],
    kind="probe",
    timeout_seconds=30,
)
def failed_logins_recorded_probe(ctx: CheckContext) -> CheckResult:
    from iam.accounts.service import get_user_by_email

    with canary_user(ctx) as canary, browser(ctx) as client:
        submit_login(client, canary.email, "wrong-" + canary.password[:4])
        with unit_of_work(ctx.sessions, read_only=True) as db:
            user = get_user_by_email(db, canary.email)
            resource = f"user:{user.id}" if user else "-"
            recorded = [
                entry
                for entry in repository.recent_entries(db, 200)
                if entry.event_type == "iam.login.password"
                and entry.outcome == "failure"
                and entry.resource == resource
                and entry.origin
            ]
    return CheckResult.judge(
        bool(recorded),
        {"failure_entries_found": len(recorded)},
        {"failure_entries_found": ">= 1 with actor and origin"},
        target=ctx.base_url + "/login",
    )


@check(
    "audit.account_changes_recorded",
    title="Creating and deleting an account reaches the ledger (10.2.1.5)",
    controls=["pci-dss-4.0.1:10.2.1.5"],
    kind="probe",
)
def account_changes_recorded_probe(ctx: CheckContext) -> CheckResult:
    from iam.accounts.service import get_user_by_email

    with canary_user(ctx) as canary, unit_of_work(ctx.sessions, read_only=True) as db:
        user = get_user_by_email(db, canary.email)
        resource = f"user:{user.id}" if user else "-"
    with unit_of_work(ctx.sessions, read_only=True) as db:
        recorded = sorted(
            {
                entry.event_type
                for entry in repository.recent_entries(db, 200)
                if entry.resource == resource
            }
        )
    wanted = ["iam.user.created", "iam.user.deleted"]
    return CheckResult.judge(
        all(event in recorded for event in wanted),
        {"events_recorded": recorded},
        {"events_recorded": wanted},
        target="audit-ledger",
    )


@check(
    "audit.clock_sync_probe",
    title="The server's clock agrees with the checker's to within five seconds",
    controls=["pci-dss-4.0.1:10.6.1"],
    kind="probe",
)
def clock_sync_probe(ctx: CheckContext) -> CheckResult:
    answer = ctx.http.get("/healthz")
    dates = answer.headers.get_list("date")
    if not dates:
        return CheckResult("fail", {"date_header": None}, {"date_header": "present"})
    stated = parsedate_to_datetime(dates[0])
    if stated.tzinfo is None:  # RFC 9110 dates are GMT; "-0000" parses as naive
        stated = stated.replace(tzinfo=UTC)
    skew = abs((stated - ctx.now).total_seconds())
    return CheckResult.judge(
        skew <= MAX_CLOCK_SKEW_SECONDS,
        {"skew_seconds": round(skew, 1)},
        {"skew_seconds": f"<= {MAX_CLOCK_SKEW_SECONDS}"},
        target=ctx.base_url,
    )
