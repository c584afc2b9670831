"""What a user has as second factors, verification of any of them at login, and reset."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.audit.service import record_event
from iam.mfa import recovery, totp
from iam.mfa.models import RecoveryCode, TotpCredential, WebAuthnCredential
from iam.sessions.repository import end_all_sessions

# RFC 8176 amr values: TOTP and recovery codes are one-time passwords, keys are hardware keys.
AMR_BY_METHOD = {"totp": "otp", "recovery": "otp", "webauthn": "hwk"}


def mfa_methods(db: Session, user_id: UUID) -> list[str]:
    """The enrolled second factors: a subset of ["totp", "webauthn"]."""
    methods = []
    if db.get(TotpCredential, user_id) is not None:
        methods.append("totp")
    has_key = db.scalar(
        select(WebAuthnCredential.id).where(WebAuthnCredential.user_id == user_id).limit(1)
    )
    if has_key is not None:
        methods.append("webauthn")
    return methods


def verify_code(db: Session, user_id: UUID, method: str, code: str) -> bool:
    """Check a TOTP or recovery code and audit the outcome (never the code)."""
    if method == "totp":
        ok = totp.verify_totp(db, user_id, code)
    elif method == "recovery":
        ok = recovery.use_recovery_code(db, user_id, code)
    else:
        ok = False
    audit_verification(db, user_id, method, ok)
    return ok


def audit_verification(db: Session, user_id: UUID, method: str, ok: bool) -> None:
    details: dict[str, object] = {"method": method}
    if method == "recovery" and ok:
        details["recovery_codes_left"] = recovery.remaining_recovery_codes(db, user_id)
    record_event(
        db,
        event_type="iam.mfa.verify",
        outcome="success" if ok else "failure",
        actor=f"user:{user_id}",
        resource=f"user:{user_id}",
        details=details,
    )


def reset_mfa(db: Session, user_id: UUID, *, reason: str = "reset by an administrator") -> int:
    """Remove every second factor and recovery code of a user and end their sessions (they log
    in again and, where a role requires MFA, enrol anew). Returns how many factors were removed."""
    removed = 0
    for model in (TotpCredential, WebAuthnCredential):
        result = db.execute(delete(model).where(model.user_id == user_id))
        removed += int(result.rowcount)  # type: ignore[attr-defined]
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    ended = end_all_sessions(db, user_id)
    record_event(
        db,
        event_type="iam.mfa.reset",
        resource=f"user:{user_id}",
        details={"factors_removed": removed, "sessions_ended": ended, "reason": reason[:100]},
    )
    return removed
