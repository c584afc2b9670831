"""Waivers and manual evidence: validated, stored and audited in the caller's transaction."""

from __future__ import annotations

import hashlib
from datetime import datetime
from uuid import UUID

from sqlalchemy.orm import Session

from compliance.controls import ControlLibrary
from compliance.exceptions import UnknownControl, WaiverInvalid
from compliance.models import ManualEvidence, Waiver
from core.audit.service import record_event
from core.clock import utcnow
from core.errors import NotFound


def _known(library: ControlLibrary, control_id: str) -> None:
    try:
        library.control(control_id)
    except KeyError:
        raise UnknownControl(f"unknown control {control_id!r}") from None


def grant_waiver(
    session: Session,
    library: ControlLibrary,
    *,
    control_id: str,
    reason: str,
    approver: str,
    expires_at: datetime,
    actor: str,
) -> Waiver:
    """A waiver counts until ``expires_at``, by itself: no job has to end it."""
    _known(library, control_id)
    if not reason.strip() or not approver.strip():
        raise WaiverInvalid("a waiver needs a reason and an approver")
    if expires_at <= utcnow():
        raise WaiverInvalid("a waiver's expiry must be in the future")
    waiver = Waiver(
        control_id=control_id,
        reason=reason.strip(),
        approver=approver.strip(),
        created_by=actor,
        expires_at=expires_at,
    )
    session.add(waiver)
    session.flush()
    record_event(
        session,
        event_type="compliance.waiver_granted",
        resource=f"compliance/controls/{control_id}",
        actor=actor,
        details={
            "waiver_id": str(waiver.id),
            "approver": waiver.approver,
            "expires_at": expires_at.isoformat(),
            "reason": waiver.reason[:500],
        },
    )
    return waiver


def revoke_waiver(session: Session, waiver_id: UUID, *, actor: str) -> Waiver:
    waiver = session.get(Waiver, waiver_id)
    if waiver is None or waiver.revoked_at is not None:
        raise NotFound("no such active waiver")
    waiver.revoked_at = utcnow()
    session.flush()
    record_event(
        session,
        event_type="compliance.waiver_revoked",
        resource=f"compliance/controls/{waiver.control_id}",
        actor=actor,
        details={"waiver_id": str(waiver.id)},
    )
    return waiver


def upload_manual_evidence(
    session: Session,
    library: ControlLibrary,
    *,
    control_id: str,
    filename: str,
    media_type: str,
    content: bytes,
    owner: str,
    actor: str,
    due_at: datetime | None = None,
) -> ManualEvidence:
    """Keep a document for a control's manual slot; the next one is due after its frequency."""
    _known(library, control_id)
    _, control = library.control(control_id)
    if control.manual is None:
        raise WaiverInvalid(f"control {control_id} has no manual evidence slot")
    now = utcnow()
    upload = ManualEvidence(
        control_id=control_id,
        filename=filename[:255],
        media_type=media_type[:100],
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        owner=owner,
        uploaded_by=actor,
        uploaded_at=now,
        due_at=due_at or control.cadence.expires(now),
    )
    session.add(upload)
    session.flush()
    record_event(
        session,
        event_type="compliance.manual_evidence",
        resource=f"compliance/controls/{control_id}",
        actor=actor,
        details={"upload_id": str(upload.id), "sha256": upload.sha256, "owner": owner},
    )
    return upload
