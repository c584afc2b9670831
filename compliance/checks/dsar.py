"""GDPR Article 12(3): every data-subject request is answered within one month of receipt, or
within its extension, and no request was extended without the notice to the subject; and every
request completed in the last month was completed on time with a signed certificate (the check
the workflow records as evidence when a request completes)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from compliance.checks.base import CheckContext, CheckResult, check


@check(
    "gdpr.dsar_deadlines",
    title="No data-subject request is open past its due date or extended without a notice",
    controls=["gdpr:art-12.3"],
)
def dsar_deadlines_check(ctx: CheckContext) -> CheckResult:
    from compliance.gdpr.models import DsarRequest
    from compliance.gdpr.states import OPEN_STATES

    # While information is requested (12(6)) the clock is paused: the due date moves on return.
    running = OPEN_STATES - {"information_requested"}
    due = func.coalesce(DsarRequest.extended_due_at, DsarRequest.due_at)
    overdue = ctx.session.scalar(
        select(func.count()).where(DsarRequest.state.in_(sorted(running)), due < ctx.now)
    )
    unnotified = ctx.session.scalar(
        select(func.count()).where(
            DsarRequest.extended_due_at.is_not(None), DsarRequest.extension_notified_at.is_(None)
        )
    )
    open_requests = ctx.session.scalar(
        select(func.count()).where(DsarRequest.state.in_(sorted(OPEN_STATES)))
    )
    observed = {
        "open_requests": int(open_requests or 0),
        "overdue": int(overdue or 0),
        "extended_without_notice": int(unnotified or 0),
    }
    return CheckResult.judge(
        not observed["overdue"] and not observed["extended_without_notice"],
        observed,
        {"overdue": 0, "extended_without_notice": 0},
    )


COMPLETIONS_CHECK = "gdpr.dsar_completions"
COMPLETIONS_WINDOW = timedelta(days=31)


def completions_result(session: Session, now: datetime) -> CheckResult:
    """The requests completed in the month up to ``now``: none late, none without certificate."""
    from compliance.gdpr.models import DsarCertificate, DsarRequest

    due = func.coalesce(DsarRequest.extended_due_at, DsarRequest.due_at)
    recent = (
        DsarRequest.state == "completed",
        DsarRequest.completed_at >= now - COMPLETIONS_WINDOW,
        DsarRequest.completed_at <= now,
    )
    completed = session.scalar(select(func.count()).where(*recent))
    late = session.scalar(select(func.count()).where(*recent, DsarRequest.completed_at > due))
    uncertified = session.scalar(
        select(func.count())
        .select_from(DsarRequest)
        .outerjoin(DsarCertificate, DsarCertificate.request_id == DsarRequest.id)
        .where(*recent, DsarCertificate.request_id.is_(None))
    )
    observed = {
        "completed_last_31_days": int(completed or 0),
        "completed_late": int(late or 0),
        "without_certificate": int(uncertified or 0),
    }
    return CheckResult.judge(
        not observed["completed_late"] and not observed["without_certificate"],
        observed,
        {"completed_late": 0, "without_certificate": 0},
    )


@check(
    COMPLETIONS_CHECK,
    title="Every data-subject request completed in the last month was on time and certified",
    controls=["gdpr:art-12.3"],
)
def dsar_completions_check(ctx: CheckContext) -> CheckResult:
    return completions_result(ctx.session, ctx.now)
