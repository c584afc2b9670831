"""Recovery codes: ten single-use codes shown once, stored as keyed hashes (HMAC-SHA256: they are
random, 80 bits each, so a slow hash would add nothing but cost)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from uuid import UUID

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from core.audit.service import record_event
from core.clock import utcnow
from iam.mfa.models import RecoveryCode
from iam.sessions import secret_keys

CODE_COUNT = 10
CODE_BYTES = 10  # 80 bits -> 16 base32 characters


def _normalize(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def _digest(db: Session, code: str) -> str:
    key = secret_keys.derived_key(db, secret_keys.RECOVERY_CODE)
    return hmac.new(key, _normalize(code).encode(), hashlib.sha256).hexdigest()


def _new_code() -> str:
    raw = base64.b32encode(secrets.token_bytes(CODE_BYTES)).decode().lower()
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def generate_recovery_codes(db: Session, user_id: UUID) -> list[str]:
    """Replace the user's recovery codes with ten new ones; returns them for showing once."""
    codes = [_new_code() for _ in range(CODE_COUNT)]
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    db.add_all(RecoveryCode(user_id=user_id, code_hash=_digest(db, code)) for code in codes)
    db.flush()
    record_event(
        db,
        event_type="iam.mfa.recovery_codes_generated",
        actor=f"user:{user_id}",
        resource=f"user:{user_id}",
        details={"count": CODE_COUNT},
    )
    return codes


def use_recovery_code(db: Session, user_id: UUID, code: str) -> bool:
    """Spend one unused code; True when it existed and was unused (atomic: single use)."""
    if len(_normalize(code)) != CODE_BYTES * 8 // 5:
        return False
    result = db.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == _digest(db, code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


def remaining_recovery_codes(db: Session, user_id: UUID) -> int:
    return int(
        db.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )
