"""WebAuthn / passkeys (py_webauthn): registration and authentication ceremonies. The challenge
lives in the login session row and is spent by the verification that reads it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import webauthn
from sqlalchemy import select
from sqlalchemy.orm import Session
from webauthn.helpers import parse_authentication_credential_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from core.audit.service import record_event
from core.clock import utcnow
from core.settings import get_settings
from iam.accounts.models import User
from iam.mfa.exceptions import WebAuthnFailed
from iam.mfa.models import WebAuthnCredential
from iam.sessions.models import LoginSession

MAX_LABEL = 100


def relying_party() -> tuple[str, str]:
    """(rp_id, expected origin), both from the issuer URL."""
    parts = urlsplit(get_settings().issuer)
    return parts.hostname or "localhost", f"{parts.scheme}://{parts.netloc}"


def credentials_of(db: Session, user_id: UUID) -> list[WebAuthnCredential]:
    return list(
        db.scalars(
            select(WebAuthnCredential)
            .where(WebAuthnCredential.user_id == user_id)
            .order_by(WebAuthnCredential.created_at)
        ).all()
    )


def _descriptors(credentials: list[WebAuthnCredential]) -> list[PublicKeyCredentialDescriptor]:
    known = {t.value for t in AuthenticatorTransport}
    return [
        PublicKeyCredentialDescriptor(
            id=c.credential_id,
            transports=[AuthenticatorTransport(t) for t in c.transports if t in known],
        )
        for c in credentials
    ]


def registration_options(db: Session, session: LoginSession, user: User) -> str:
    """Options JSON for navigator.credentials.create(); remembers the challenge."""
    rp_id, _ = relying_party()
    options = webauthn.generate_registration_options(
        rp_id=rp_id,
        rp_name=get_settings().brand_name,
        user_id=user.id.bytes,
        user_name=user.email,
        user_display_name=user.name or user.email,
        exclude_credentials=_descriptors(credentials_of(db, user.id)),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
    )
    session.webauthn_challenge = options.challenge
    db.flush()
    return webauthn.options_to_json(options)


def _take_challenge(db: Session, session: LoginSession) -> bytes:
    challenge = session.webauthn_challenge
    if not challenge:
        raise WebAuthnFailed("no ceremony in progress; start again")
    session.webauthn_challenge = None  # single use, even when verification fails
    db.flush()
    return challenge


def verify_registration(
    db: Session, session: LoginSession, user: User, credential: dict[str, Any], label: str
) -> WebAuthnCredential:
    challenge = _take_challenge(db, session)
    rp_id, origin = relying_party()
    try:
        verified = webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        _audit(db, user, "iam.mfa.enrolment", "failure", reason=type(exc).__name__)
        raise WebAuthnFailed() from None
    transports = credential.get("response", {}).get("transports") or []
    row = WebAuthnCredential(
        user_id=user.id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=[str(t) for t in transports][:8],
        label=(label.strip() or "Security key")[:MAX_LABEL],
    )
    db.add(row)
    db.flush()
    _audit(db, user, "iam.mfa.enrolled", "success", authenticator=str(row.id))
    return row


def authentication_options(db: Session, session: LoginSession, user: User) -> str:
    """Options JSON for navigator.credentials.get() over the user's registered keys."""
    rp_id, _ = relying_party()
    options = webauthn.generate_authentication_options(
        rp_id=rp_id,
        allow_credentials=_descriptors(credentials_of(db, user.id)),
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    session.webauthn_challenge = options.challenge
    db.flush()
    return webauthn.options_to_json(options)


def verify_authentication(
    db: Session, session: LoginSession, user: User, credential: dict[str, Any]
) -> bool:
    """True when one of the user's keys signed the pending challenge; updates its counter."""
    challenge = _take_challenge(db, session)
    rp_id, origin = relying_party()
    try:
        parsed = parse_authentication_credential_json(json.dumps(credential))
    except (WebAuthnException, ValueError, TypeError):
        return False
    row = db.scalars(
        select(WebAuthnCredential).where(
            WebAuthnCredential.user_id == user.id,
            WebAuthnCredential.credential_id == parsed.raw_id,
        )
    ).one_or_none()
    if row is None:
        return False
    try:
        verified = webauthn.verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=row.public_key,
            credential_current_sign_count=row.sign_count,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        return False
    row.sign_count = verified.new_sign_count
    row.last_used_at = utcnow()
    db.flush()
    return True


def _audit(db: Session, user: User, event_type: str, outcome: str, **details: str) -> None:
    record_event(
        db,
        event_type=event_type,
        outcome=outcome,
        actor=f"user:{user.id}",
        resource=f"user:{user.id}",
        details={"method": "webauthn", **details},
    )
