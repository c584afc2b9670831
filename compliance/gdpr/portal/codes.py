"""E-mail verification for the privacy portal: a single-use 8-digit code, mailed, valid 10
minutes, 3 attempts; requests rate-limited per address and per client address (the IdP's
database throttle, so every replica counts alike). The code is kept only as an HMAC under an
IdP-derived key (a 10^8 space is no protection against a plain hash) and compared in constant
time. Whether the address belongs to an account changes nothing a caller can see: any
well-formed address gets the same page and a code (a customer needs no account to exercise
their rights); only what the code signs in as differs (:func:`subject_for_email`)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from compliance.gdpr.portal.models import PortalCode
from core.audit.service import record_event
from core.clock import utcnow
from core.ids import uuid7
from core.mail import Mail, send_mail
from iam.accounts.exceptions import InvalidEmail
from iam.accounts.service import get_user_by_email, normalize_email
from iam.accounts.throttling import is_blocked, record_failure
from iam.sessions import secret_keys

CODE_DIGITS = 8
CODE_LIFETIME = timedelta(minutes=10)
MAX_ATTEMPTS = 3
THROTTLE_WINDOW = timedelta(hours=1)
CODES_PER_ADDRESS = 5  # codes mailed to one address per window
CODES_PER_SOURCE = 20  # codes requested from one client address per window
FAILURES_PER_SOURCE = 10  # wrong codes from one client address per window
HMAC_LABEL = "privacy-portal-hmac"
EMAIL_SUBJECT_PREFIX = "email:"

CodeRequest = Literal["sent", "invalid", "throttled"]


@dataclass(frozen=True, slots=True)
class Verified:
    email: str
    subject: str


def _mac(db: Session, value: str) -> str:
    key = secret_keys.derived_key(db, HMAC_LABEL)
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def _source_key(client_address: str | None) -> str:
    return f"privacy-ip:{client_address or 'unknown'}"[:100]


def _address_key(address_hash: str) -> str:
    return f"privacy-addr:{address_hash}"


def subject_for_email(db: Session, email: str) -> str:
    """The data subject a verified address signs in as: the id of the account with that e-mail
    when there is one (the ``subject`` its vault tokens carry), else ``email:`` + the SHA-256 hex
    of the normalized address (stable across replicas and restarts, computable by a shop)."""
    user = get_user_by_email(db, email)
    if user is not None:
        return str(user.id)
    return EMAIL_SUBJECT_PREFIX + hashlib.sha256(email.encode()).hexdigest()


def request_code(db: Session, email: str, *, client_address: str | None) -> CodeRequest:
    """Mail a fresh code to ``email`` (earlier unused codes for it stop working)."""
    try:
        address = normalize_email(email)
    except InvalidEmail:
        return "invalid"
    now = utcnow()
    address_hash = _mac(db, "address:" + address)
    source = _source_key(client_address)
    if is_blocked(db, source, now) or is_blocked(db, _address_key(address_hash), now):
        return "throttled"
    record_failure(db, source, now, limit=CODES_PER_SOURCE, window=THROTTLE_WINDOW)
    record_failure(
        db, _address_key(address_hash), now, limit=CODES_PER_ADDRESS, window=THROTTLE_WINDOW
    )
    db.execute(
        update(PortalCode)
        .where(PortalCode.address_hash == address_hash, PortalCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    row_id = uuid7()
    db.add(
        PortalCode(
            id=row_id,
            address_hash=address_hash,
            code_hash=_mac(db, f"code:{row_id}:{code}"),
            created_at=now,
            expires_at=now + CODE_LIFETIME,
            attempts=0,
        )
    )
    db.flush()
    record_event(
        db,
        event_type="gdpr.portal.code_sent",
        resource="privacy",
        details={"challenge": str(row_id)},
    )
    send_mail(
        Mail(
            to=address,
            subject="Your sign-in code for the privacy portal",
            body=f"Your code is {code}\n\nIt works once, for 10 minutes. If you did not ask "
            "for it, ignore this message.\n",
        )
    )
    return "sent"


def verify_code(
    db: Session, email: str, code: str, *, client_address: str | None
) -> Verified | Literal["refused", "throttled"]:
    """The verified address when ``code`` is the newest live code for it; a wrong code counts
    an attempt (the third ends the code) and a failure of the client address."""
    now = utcnow()
    source = _source_key(client_address)
    if is_blocked(db, source, now):
        return "throttled"
    try:
        address = normalize_email(email)
    except InvalidEmail:
        address = None
    row = None
    if address is not None:
        row = db.scalars(
            select(PortalCode)
            .where(
                PortalCode.address_hash == _mac(db, "address:" + address),
                PortalCode.used_at.is_(None),
            )
            .order_by(PortalCode.created_at.desc(), PortalCode.id.desc())
            .limit(1)
            .with_for_update()
        ).one_or_none()
    submitted = "".join(code.split())
    live = row is not None and row.expires_at > now and row.attempts < MAX_ATTEMPTS
    if (
        row is not None
        and live
        and hmac.compare_digest(row.code_hash, _mac(db, f"code:{row.id}:{submitted}"))
    ):
        row.used_at = now
        db.flush()
        assert address is not None  # noqa: S101 - a row was found for it
        record_event(
            db, event_type="gdpr.portal.code_verified", resource="privacy",
            details={"challenge": str(row.id)},
        )  # fmt: skip
        return Verified(email=address, subject=subject_for_email(db, address))
    if row is not None:
        row.attempts += 1
        if row.attempts >= MAX_ATTEMPTS or not live:
            row.used_at = now
    record_failure(db, source, now, limit=FAILURES_PER_SOURCE, window=THROTTLE_WINDOW)
    record_event(
        db, event_type="gdpr.portal.code_refused", resource="privacy", outcome="failure",
        details={"challenge": str(row.id) if row is not None else None},
    )  # fmt: skip
    db.flush()
    return "refused"
