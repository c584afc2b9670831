"""The control page's waiver forms: a compliance officer waives a control until a day, or revokes
an active waiver, from ``/dashboard/controls/{id}``. Each POST is guarded by the same policies
as the API (``compliance/waivers`` create or revoke, core.authz.authorize_page), carries the
login session's CSRF token (iam.sessions: the login pages' one mechanism), and goes through
compliance.service (grant_waiver, revoke_waiver: validated, stored and written to the audit
ledger in one transaction). Success is a 303 back to the control; a refusal is the control page
again with the reason (403 stale form, 422 invalid input) and nothing written."""

# No `from __future__ import annotations`: FastAPI must see the Annotated guards as objects.

from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from compliance.config import ComplianceConfig
from compliance.dashboard.access import scope_for
from compliance.dashboard.endpoints import show_control
from compliance.dashboard.views import end_of_day
from compliance.exceptions import WaiverInvalid
from compliance.models import Waiver
from compliance.service import grant_waiver, revoke_waiver
from core.authz import Principal, authorize_page
from core.clock import utcnow
from core.errors import NotFound
from core.http import DbSession
from core.strict_json import StrictJsonRoute
from iam.pages.rendering import PAGE_ROUTES, redirect
from iam.sessions import service as sessions

# Refusals are the control page again (HTML) or problem+json; success is a 303 (OpenAPI).
_REFUSED = PAGE_ROUTES["responses"][403]
router = APIRouter(
    prefix="/dashboard",
    tags=["dashboard"],
    route_class=StrictJsonRoute,
    responses={**PAGE_ROUTES["responses"], 422: _REFUSED},
)

WaiverGranter = Annotated[Principal, authorize_page("compliance/waivers", "create")]
WaiverRevoker = Annotated[Principal, authorize_page("compliance/waivers", "revoke")]

STALE_FORM = "Your session expired or the form was stale. Nothing was changed; please try again."
BAD_DATE = "Not waived: give the waiver's last day as a date (YYYY-MM-DD)."


def _control_url(control_id: str) -> str:
    return f"/dashboard/controls/{control_id}"


def _visible_control(session: Session, caller: Principal, control_id: str) -> None:
    """404 for a control the library lacks or the caller's scope hides (as the page does)."""
    library = ComplianceConfig.from_env().library()
    try:
        framework, _ = library.control(control_id)
    except KeyError:
        raise NotFound(f"unknown control {control_id!r}") from None
    if not scope_for(session, caller, utcnow()).shows_framework(framework.id):
        raise NotFound(f"unknown control {control_id!r}")


@router.post(
    "/controls/{control_id}/waivers",
    response_class=HTMLResponse,
    operation_id="dashboard_grant_waiver",
    summary="Waive a control until a day (the control page's form)",
)
def grant_waiver_form(
    control_id: str,
    request: Request,
    session: DbSession,
    caller: WaiverGranter,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    approver: Annotated[str, Form(max_length=255)] = "",
    expires: Annotated[str, Form(max_length=10, description="Last day waived, YYYY-MM-DD")] = "",
) -> Response:
    """Waive the control until the end of ``expires`` (UTC) with a reason and an approver, as
    POST /v1/compliance/waivers does; then back to the control (303)."""
    _visible_control(session, caller, control_id)
    typed = {"reason": reason, "approver": approver, "expires": expires}

    def again(status: int, error: str) -> Response:
        return show_control(
            request, session, caller, control_id, None, status=status, error=error, form=typed
        )

    if not sessions.csrf_valid(session, request, csrf_token):
        return again(403, STALE_FORM)
    try:
        last_day = date.fromisoformat(expires.strip())
    except ValueError:
        return again(422, BAD_DATE)
    try:
        grant_waiver(
            session,
            ComplianceConfig.from_env().library(),
            control_id=control_id,
            reason=reason,
            approver=approver,
            expires_at=end_of_day(last_day),
            actor=caller.name,
        )
    except WaiverInvalid as exc:  # raised before anything is added to the session
        return again(422, f"Not waived: {exc.detail}.")
    return redirect(_control_url(control_id))


@router.post(
    "/controls/{control_id}/waivers/{waiver_id}/revoke",
    response_class=HTMLResponse,
    operation_id="dashboard_revoke_waiver",
    summary="Revoke a control's active waiver (the control page's button)",
)
def revoke_waiver_form(
    control_id: str,
    waiver_id: UUID,
    request: Request,
    session: DbSession,
    caller: WaiverRevoker,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Revoke the waiver now, as DELETE /v1/compliance/waivers/{id} does: the control is judged
    on its evidence again at once; then back to the control (303)."""
    _visible_control(session, caller, control_id)
    waiver = session.get(Waiver, waiver_id)
    if waiver is None or waiver.control_id != control_id:
        raise NotFound("no such waiver of this control")
    if not sessions.csrf_valid(session, request, csrf_token):
        return show_control(request, session, caller, control_id, None, status=403,
                            error=STALE_FORM)  # fmt: skip
    revoke_waiver(session, waiver.id, actor=caller.name)
    return redirect(_control_url(control_id))
