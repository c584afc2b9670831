"""TOTP (RFC 6238, pyotp): enrolment in two steps that stores nothing until a code proves the
secret, then verification with a ±1 step window where no step is ever accepted twice."""

from __future__ import annotations

import hmac
import json
import time
from dataclasses import dataclass
from uuid import UUID

import pyotp
import segno
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from core.audit.service import record_event
from core.clock import utcnow
from core.settings import get_settings
from iam.accounts.models import User
from iam.mfa import crypto
from iam.mfa.exceptions import EnrolmentExpired, InvalidCode
from iam.mfa.models import TotpCredential
from iam.sessions import secret_keys

STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1  # steps accepted either side of now: clocks drift, people type slowly
ENROLMENT_SECONDS = 900


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    """What the enrolment page shows; ``sealed`` goes back with the confirmation form."""

    secret: str
    provisioning_uri: str
    qr_data_uri: str
    sealed: str


def _context(user_id: UUID) -> bytes:
    return f"totp:{user_id}".encode()


def _enrolment_context(user_id: UUID, session_id: UUID) -> bytes:
    return f"totp-enrolment:{user_id}:{session_id}".encode()


def begin_enrolment(db: Session, user: User, session_id: UUID) -> TotpEnrolment:
    """A new secret, sealed for the confirmation form and bound to this user and session.
    Nothing is stored: an abandoned or failed enrolment leaves no secret behind."""
    secret = pyotp.random_base32()  # 160 bits, as RFC 4226 recommends
    uri = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=user.email, issuer_name=get_settings().brand_name
    )
    payload = json.dumps({"secret": secret, "issued": int(time.time())}).encode()
    sealed = crypto.seal(
        db, secret_keys.TOTP_ENROLMENT, payload, _enrolment_context(user.id, session_id)
    )
    qr = segno.make(uri, error="m").svg_data_uri(scale=4, border=2)
    return TotpEnrolment(secret, uri, qr, crypto.to_text(sealed))


def reopen_enrolment(db: Session, user: User, session_id: UUID, sealed_text: str) -> TotpEnrolment:
    """The same pending enrolment again (a wrong code re-renders the page without a new QR)."""
    secret = _unseal_enrolment(db, user, session_id, sealed_text)
    uri = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=user.email, issuer_name=get_settings().brand_name
    )
    qr = segno.make(uri, error="m").svg_data_uri(scale=4, border=2)
    return TotpEnrolment(secret, uri, qr, sealed_text)


def _unseal_enrolment(db: Session, user: User, session_id: UUID, sealed_text: str) -> str:
    sealed = crypto.from_text(sealed_text)
    plaintext = (
        crypto.unseal(
            db, secret_keys.TOTP_ENROLMENT, sealed, _enrolment_context(user.id, session_id)
        )
        if sealed
        else None
    )
    if plaintext is None:
        raise EnrolmentExpired()
    payload = json.loads(plaintext)
    if int(time.time()) - int(payload["issued"]) > ENROLMENT_SECONDS:
        raise EnrolmentExpired()
    return str(payload["secret"])


def _matching_step(secret: str, code: str, after_step: int) -> int | None:
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    otp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    now_step = int(time.time()) // STEP_SECONDS
    for step in range(now_step - WINDOW, now_step + WINDOW + 1):
        if step > after_step and hmac.compare_digest(
            otp.generate_otp(step).encode(), code.encode()
        ):
            return step
    return None


def confirm_enrolment(
    db: Session, user: User, session_id: UUID, sealed_text: str, code: str
) -> None:
    """Store the secret once ``code`` proves the authenticator has it; replaces an earlier TOTP.
    Raises InvalidCode or EnrolmentExpired and stores nothing then."""
    secret = _unseal_enrolment(db, user, session_id, sealed_text)
    step = _matching_step(secret, code, after_step=0)
    if step is None:
        record_event(
            db,
            event_type="iam.mfa.enrolment",
            outcome="failure",
            actor=f"user:{user.id}",
            resource=f"user:{user.id}",
            details={"method": "totp", "reason": "wrong_code"},
        )
        raise InvalidCode()
    ciphertext = crypto.seal(db, secret_keys.TOTP_SECRET, secret.encode(), _context(user.id))
    db.execute(delete(TotpCredential).where(TotpCredential.user_id == user.id))
    db.add(
        TotpCredential(
            user_id=user.id,
            secret_ciphertext=ciphertext,
            last_used_step=step,
            confirmed_at=utcnow(),
        )
    )
    db.flush()
    record_event(
        db,
        event_type="iam.mfa.enrolled",
        actor=f"user:{user.id}",
        resource=f"user:{user.id}",
        details={"method": "totp"},
    )


def provision_totp(db: Session, user: User, *, reason: str) -> str:
    """Enrol a new secret for ``user`` without a code proving it (``rampart demo seed`` hands
    the demo logins over this way); returns the secret, which the caller gives out once and
    never logs. Replaces an earlier TOTP; audited with ``reason``, never the secret."""
    secret = pyotp.random_base32()
    ciphertext = crypto.seal(db, secret_keys.TOTP_SECRET, secret.encode(), _context(user.id))
    db.execute(delete(TotpCredential).where(TotpCredential.user_id == user.id))
    db.add(TotpCredential(user_id=user.id, secret_ciphertext=ciphertext, last_used_step=0))
    db.flush()
    record_event(
        db,
        event_type="iam.mfa.enrolled",
        resource=f"user:{user.id}",
        details={"method": "totp", "provisioned": True, "reason": reason[:100]},
    )
    return secret


def provisioning_uri(user: User, secret: str) -> str:
    """The ``otpauth://`` URI authenticator apps import (the QR code's content)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=user.email, issuer_name=get_settings().brand_name
    )


def has_totp(db: Session, user_id: UUID) -> bool:
    return db.get(TotpCredential, user_id) is not None


def verify_totp(db: Session, user_id: UUID, code: str) -> bool:
    """True for a valid code of a step never used before; that step (and all before) is then
    spent. The conditional update makes two concurrent uses of one code accept only one."""
    credential = db.get(TotpCredential, user_id)
    if credential is None:
        return False
    secret = crypto.unseal(
        db, secret_keys.TOTP_SECRET, credential.secret_ciphertext, _context(user_id)
    )
    if secret is None:
        return False
    step = _matching_step(secret.decode(), code, after_step=credential.last_used_step)
    if step is None:
        return False
    result = db.execute(
        update(TotpCredential)
        .where(TotpCredential.user_id == user_id, TotpCredential.last_used_step < step)
        .values(last_used_step=step)
        .execution_options(synchronize_session=False)
    )
    db.expire(credential)
    return int(result.rowcount) == 1  # type: ignore[attr-defined]
