"""The data-subject request workflow's service functions (flush, never commit). Every state
transition writes a DsarEvent and an audit entry (``dsar.request.<verb>``; details hold the
request id, type and states only, never personal data)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.gdpr.connectors.base import RequestType, SubjectRef
from compliance.gdpr.deadlines import due_date
from compliance.gdpr.exceptions import LinkRefused, RequestNotFound
from compliance.gdpr.models import (
    DsarCertificate,
    DsarDownloadLink,
    DsarEvent,
    DsarPackage,
    DsarRequest,
)
from compliance.gdpr.states import check_transition
from core.audit.service import record_event
from core.clock import utcnow
from core.kms.service import create_data_key, load_data_key

LINK_LIFETIME = timedelta(days=7)
PACKAGE_KEY_PURPOSE = "gdpr.package"


@dataclass(frozen=True, slots=True)
class PackageDownload:
    filename: str
    content: bytes
    sha256: str


@dataclass(frozen=True, slots=True)
class CertificateFiles:
    certificate_json: bytes
    signature: bytes
    public_key_pem: bytes


def transition(
    session: Session,
    request: DsarRequest,
    to_state: str,
    *,
    actor: str,
    verb: str,
    reason: str | None = None,
) -> DsarRequest:
    """Move ``request`` to ``to_state`` (409 when the machine forbids it), with event + audit."""
    from_state = request.state
    check_transition(from_state, to_state)
    request.state = to_state
    log_event(session, request, from_state, to_state, actor=actor, verb=verb, reason=reason)
    return request


def log_event(
    session: Session,
    request: DsarRequest,
    from_state: str | None,
    to_state: str,
    *,
    actor: str,
    verb: str,
    reason: str | None,
) -> None:
    session.add(
        DsarEvent(
            request_id=request.id,
            from_state=from_state,
            to_state=to_state,
            actor=actor,
            reason=reason,
        )
    )
    record_event(
        session,
        event_type=f"dsar.request.{verb}",
        resource=f"dsar/{request.id}",
        actor=actor,
        details={
            "request_id": str(request.id),
            "type": request.type,
            "from_state": from_state,
            "to_state": to_state,
        },
    )
    session.flush()


def file_request(
    session: Session,
    *,
    type: RequestType,
    subject: SubjectRef,
    channel: Literal["portal", "api", "officer"],
    actor: str,
    identity_verified: bool,
    changes: Mapping[str, str] | None = None,
    purposes: Sequence[str] = (),
    note: str | None = None,
) -> DsarRequest:
    received = utcnow()
    request = DsarRequest(
        type=type,
        subject=subject.subject,
        email=subject.email,
        channel=channel,
        state="received",
        changes=json.dumps(dict(changes)) if changes else None,
        purposes=json.dumps(list(purposes)),
        note=note,
        received_at=received,
        due_at=due_date(received),
        paused_days=0,
    )
    session.add(request)
    session.flush()
    log_event(session, request, None, "received", actor=actor, verb="filed", reason=None)
    next_state = "verified" if identity_verified else "identity_pending"
    return transition(session, request, next_state, actor=actor, verb=next_state)


def get_request(session: Session, request_id: UUID) -> DsarRequest:
    request = session.get(DsarRequest, request_id)
    if request is None:
        raise RequestNotFound()
    return request


def requests_of_subject(session: Session, subject: str) -> Sequence[DsarRequest]:
    return session.scalars(
        select(DsarRequest)
        .where(DsarRequest.subject == subject)
        .order_by(DsarRequest.received_at.desc(), DsarRequest.id.desc())
    ).all()


def request_of_subject(session: Session, request_id: UUID, subject: str) -> DsarRequest:
    request = session.get(DsarRequest, request_id)
    if request is None or not hmac.compare_digest(request.subject.encode(), subject.encode()):
        raise RequestNotFound()
    return request


def request_history(session: Session, request_id: UUID) -> Sequence[DsarEvent]:
    return session.scalars(
        select(DsarEvent)
        .where(DsarEvent.request_id == request_id)
        .order_by(DsarEvent.at, DsarEvent.id)
    ).all()


def withdraw_request(
    session: Session, request_id: UUID, *, subject: str, actor: str
) -> DsarRequest:
    request = request_of_subject(session, request_id, subject)
    transition(session, request, "withdrawn", actor=actor, verb="withdrawn")
    request.changes = None
    request.completed_at = utcnow()
    return request


def request_information(
    session: Session, request_id: UUID, *, actor: str, reason: str
) -> DsarRequest:
    """Art. 12(6): ask the subject for what is needed; the clock pauses."""
    request = get_request(session, request_id)
    request.paused_at = utcnow()
    return transition(
        session,
        request,
        "information_requested",
        actor=actor,
        verb="information_requested",
        reason=reason,
    )


def answer_information_request(
    session: Session, request_id: UUID, *, subject: str, answer: str, actor: str
) -> DsarRequest:
    """The subject answers a 12(6) request: the paused days are added and the clock resumes."""
    request = request_of_subject(session, request_id, subject)
    now = utcnow()
    if request.paused_at is not None:
        paused = max(0, (now - request.paused_at).days)
        request.paused_days += paused
        request.due_at = due_date(request.received_at, paused_days=request.paused_days)
        request.paused_at = None
    request.note = answer
    return transition(session, request, "verified", actor=actor, verb="information_answered")


def issue_package_link(session: Session, request_id: UUID, *, subject: str) -> str:
    request = request_of_subject(session, request_id, subject)
    if session.get(DsarPackage, request.id) is None:
        raise RequestNotFound("the request has no package")
    token = secrets.token_urlsafe(32)
    session.add(
        DsarDownloadLink(
            request_id=request.id,
            token_hash=hashlib.sha256(token.encode()).hexdigest(),
            expires_at=utcnow() + LINK_LIFETIME,
        )
    )
    session.flush()
    return token


def redeem_package_link(
    session: Session, request_id: UUID, *, subject: str, token: str
) -> PackageDownload:
    request = request_of_subject(session, request_id, subject)
    digest = hashlib.sha256(token.encode()).hexdigest()
    links = session.scalars(
        select(DsarDownloadLink).where(DsarDownloadLink.request_id == request.id)
    ).all()
    now = utcnow()
    link = next((x for x in links if hmac.compare_digest(x.token_hash, digest)), None)
    if link is None or link.used_at is not None or link.expires_at <= now:
        raise LinkRefused()
    link.used_at = now
    session.flush()
    return read_package(session, request.id)


def store_package(
    session: Session, request: DsarRequest, filename: str, content: bytes
) -> DsarPackage:
    """Seal ``content`` under a fresh KMS data key and keep it with its sha256."""
    key_id, key = create_data_key(session, PACKAGE_KEY_PURPOSE)
    nonce = os.urandom(12)
    sealed = nonce + AESGCM(key).encrypt(nonce, content, str(request.id).encode())
    sha = hashlib.sha256(content).hexdigest()
    package = DsarPackage(
        request_id=request.id, filename=filename, key_id=key_id, sealed=sealed, sha256=sha
    )
    session.add(package)
    request.package_sha256 = sha
    session.flush()
    return package


def read_package(session: Session, request_id: UUID) -> PackageDownload:
    package = session.get(DsarPackage, request_id)
    if package is None or package.key_id is None:
        raise RequestNotFound("the request has no package")
    key = load_data_key(session, package.key_id)
    nonce, body = package.sealed[:12], package.sealed[12:]
    content = AESGCM(key).decrypt(nonce, body, str(request_id).encode())
    return PackageDownload(filename=package.filename, content=content, sha256=package.sha256)


def certificate_of(session: Session, request_id: UUID, *, subject: str | None) -> CertificateFiles:
    """The signed completion certificate; ``subject`` None = an officer (any request)."""
    if subject is None:
        get_request(session, request_id)
    else:
        request_of_subject(session, request_id, subject)
    certificate = session.get(DsarCertificate, request_id)
    if certificate is None:
        raise RequestNotFound("the request has no certificate yet")
    return CertificateFiles(
        certificate_json=certificate.certificate_json,
        signature=certificate.signature,
        public_key_pem=certificate.public_key_pem,
    )
