"""The officer's decisions on a request: verify identity, approve (erasure and rectification wait
for it), reject (with a reason and a notice naming the right to complain, Art. 12(4)) and extend
(Art. 12(3): up to two further months, only while the first month runs, only once the subject's
notice is sent; a mail failure fails the extension with 503)."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.orm import Session

from compliance.gdpr.deadlines import due_date
from compliance.gdpr.models import DsarRequest
from compliance.gdpr.service import get_request, log_event, transition
from compliance.gdpr.states import NEEDS_APPROVAL
from core.clock import utcnow
from core.errors import Conflict, ValidationFailed
from core.mail import Mail, send_mail


def _notify(request: DsarRequest, subject: str, body: str) -> None:
    if request.email:
        send_mail(Mail(to=request.email, subject=subject, body=body))


def verify_identity(session: Session, request_id: UUID, *, actor: str) -> DsarRequest:
    return transition(
        session, get_request(session, request_id), "verified", actor=actor, verb="verified"
    )


def start(session: Session, request_id: UUID, *, actor: str) -> DsarRequest:
    """verified -> in_progress, or awaiting_approval for erasure and rectification."""
    request = get_request(session, request_id)
    if request.type in NEEDS_APPROVAL and request.state == "verified":
        return transition(session, request, "awaiting_approval", actor=actor, verb="awaiting")
    return transition(session, request, "in_progress", actor=actor, verb="started")


def approve(session: Session, request_id: UUID, *, actor: str) -> DsarRequest:
    request = get_request(session, request_id)
    if request.state != "awaiting_approval":
        raise Conflict("only a request awaiting approval can be approved")
    return transition(session, request, "in_progress", actor=actor, verb="approved")


def reject(session: Session, request_id: UUID, *, actor: str, reason: str) -> DsarRequest:
    if not reason.strip():
        raise ValidationFailed("a rejection needs a reason")
    request = get_request(session, request_id)
    transition(session, request, "rejected", actor=actor, verb="rejected", reason=reason)
    request.rejection_reason = reason
    request.changes = None
    request.completed_at = utcnow()
    _notify(
        request,
        "Your data protection request was declined",
        f"We could not act on your request {request.id}: {reason}\n\n"
        "You have the right to lodge a complaint with a supervisory authority and to seek a "
        "judicial remedy (GDPR Art. 12(4), 77, 79).\n",
    )
    return request


def extend(
    session: Session, request_id: UUID, *, actor: str, months: int, reason: str
) -> DsarRequest:
    if months not in (1, 2):
        raise ValidationFailed("an extension is one or two further months")
    if not reason.strip():
        raise ValidationFailed("an extension needs a reason")
    request = get_request(session, request_id)
    if request.extended_due_at is not None:
        raise Conflict("the request was already extended")
    if utcnow() >= request.due_at:
        raise Conflict("a request can be extended only while its first month runs")
    if not request.email:
        raise Conflict("the subject has no address to notify of the extension")
    new_due = due_date(
        request.received_at, paused_days=request.paused_days, extension_months=months
    )
    # The notice first: when it cannot be sent (MailUnavailable, 503) nothing changes.
    send_mail(
        Mail(
            to=request.email,
            subject="Your data protection request needs more time",
            body=f"We need until {new_due.date().isoformat()} to complete request "
            f"{request.id}: {reason}\n",
        )
    )
    request.extended_due_at = new_due
    request.extension_reason = reason
    request.extension_notified_at = utcnow()
    log_event(
        session, request, request.state, request.state, actor=actor, verb="extended", reason=reason
    )
    return request
