"""GDPR Article 12(3): every data-subject request is answered within one month of receipt, or
within its extension, and no request was extended without the notice to the subject."""

from __future__ import annotations

from sqlalchemy import func, select

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
