"""Password login with per-account lockout (PCI DSS 8.3.4) and per-source throttling.

Every refusal (unknown email, wrong password, locked, disabled, throttled source) costs one argon2
verification and gives the same answer, so neither timing nor wording tells an attacker which
accounts exist or are locked; an unknown account also runs the statements a known one does (its
lookups and failure count address an id nobody has). Failures are *returned*, not raised: the
caller's unit of work must commit the counters and audit entries that a raised error would roll
back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.audit.service import record_event
from core.clock import utcnow
from core.settings import get_settings
from iam.accounts import repository, throttling
from iam.accounts.exceptions import InvalidEmail
from iam.accounts.models import User
from iam.accounts.passwords import (
    hash_password,
    needs_rehash,
    spend_dummy_verification,
    verify_password,
)
from iam.accounts.service import normalize_email

_MAX_PASSWORD_INPUT = 1024  # longer input is refused before argon2 sees it
_NOBODY = UUID(int=0)  # what an unknown account's statements address: matches no row


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """What the read-only first phase learnt; carries no password."""

    source: str
    user_id: UUID | None
    password_hash: str | None
    refusal: str | None  # source_throttled, unknown_account, no_password, locked; None: verify


def prepare_login(db: Session, email: str, *, client_address: str | None) -> LoginAttempt:
    """Phase 1, reads only: is the source blocked, which account, is it locked."""
    now = utcnow()
    source = throttling.source_key(client_address)
    if throttling.is_blocked(db, source, now):
        return LoginAttempt(source, None, None, "source_throttled")
    try:
        normalized = normalize_email(email)
    except InvalidEmail:
        normalized = ""  # matches no account, looked up all the same
    user = repository.get_login_account(db, email=normalized)
    if user is None:
        return LoginAttempt(source, None, None, "unknown_account")
    if user.password_hash is None:
        return LoginAttempt(source, user.id, None, "no_password")
    if user.locked_until is not None and user.locked_until > now:
        return LoginAttempt(source, user.id, user.password_hash, "locked")
    return LoginAttempt(source, user.id, user.password_hash, None)


def check_password(attempt: LoginAttempt, password: str) -> bool:
    """Phase 2, no database: exactly one argon2 verification, a dummy one when the attempt is
    refused already, so every answer takes the same time."""
    if attempt.refusal is not None or attempt.password_hash is None:
        spend_dummy_verification(password[:_MAX_PASSWORD_INPUT])
        return False
    if len(password) > _MAX_PASSWORD_INPUT:
        spend_dummy_verification(password[:_MAX_PASSWORD_INPUT])
        return False
    return verify_password(attempt.password_hash, password)


def settle_login(
    db: Session, attempt: LoginAttempt, password_ok: bool, password: str
) -> User | None:
    """Phase 3, writes: counters, lockout, audit of failures; the user on success. Re-reads the
    account, so a lock or disable that happened meanwhile still wins."""
    now = utcnow()
    settings = get_settings()
    if attempt.refusal == "source_throttled":
        _audit_failure(db, None, "source_throttled")
        return None
    user = repository.get_login_account(db, user_id=attempt.user_id or _NOBODY)
    if user is None or attempt.refusal in ("unknown_account", "no_password"):
        _fail_source(db, attempt.source, now)
        repository.count_failed_login(db, _NOBODY)  # the statement a wrong password costs
        _audit_failure(db, user, attempt.refusal or "unknown_account")
        return None
    if user.locked_until is not None and user.locked_until > now:
        _fail_source(db, attempt.source, now)
        repository.count_failed_login(db, _NOBODY)
        _audit_failure(db, user, "locked")
        return None
    if password_ok and user.password_hash != attempt.password_hash:
        # Changed between the phases: the verified hash is no longer the password.
        password_ok = user.password_hash is not None and verify_password(
            user.password_hash, password
        )
    if not password_ok:
        _fail_source(db, attempt.source, now)
        failures = repository.increment_failed_logins(db, user.id)
        set_committed_value(user, "failed_logins", failures)
        _audit_failure(db, user, "wrong_password", failures=failures)
        if failures >= settings.lockout_threshold:
            _lock(db, user, now + timedelta(minutes=settings.lockout_minutes), failures)
        return None
    if user.status != "active":
        # Checked after the password so a disabled account answers like any wrong password.
        _fail_source(db, attempt.source, now)
        _audit_failure(db, user, "disabled")
        return None

    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if user.password_hash is not None and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    db.flush()
    repository.get_user(db, user.id)  # roles now (callers read them), only on success
    # The success is audited once, by the caller that acts on it (sessions.start_session writes
    # "iam.login" or, when a second factor is still due, "iam.login.password"): one ledger write
    # per login instead of two.
    return user


def authenticate_password(
    db: Session,
    email: str,
    password: str,
    *,
    client_address: str | None,
    read_db: Session | None = None,
) -> User | None:
    """The user when email and password are right and nothing blocks the login; else None.

    ``read_db``: a separate session for the read-only phase, ended before the argon2
    verification, so the ~20 ms of hashing never runs inside ``db``'s write transaction (on
    SQLite a write transaction locks the whole database). Failures are audited here; the caller
    audits the success."""
    reader = read_db if read_db is not None else db
    attempt = prepare_login(reader, email, client_address=client_address)
    if read_db is not None:
        read_db.rollback()  # read-only: end the transaction before the slow part
    ok = check_password(attempt, password)
    return settle_login(db, attempt, ok, password)


def _fail_source(db: Session, source: str, now: datetime) -> None:
    if throttling.record_source_failure(db, source, now):
        record_event(
            db,
            event_type="iam.login.source_throttled",
            outcome="denied",
            resource=source,
            details={"window_seconds": get_settings().login_throttle_window_seconds},
        )


def _lock(db: Session, user: User, until: datetime, failures: int) -> None:
    user.locked_until = until
    user.failed_logins = 0
    db.flush()
    record_event(
        db,
        event_type="iam.account.locked",
        outcome="denied",
        resource=f"user:{user.id}",
        details={"failed_logins": failures, "locked_until": until.isoformat()},
    )


def _audit_failure(db: Session, user: User | None, reason: str, **details: object) -> None:
    # An unknown email is not written down: people type passwords into the email field.
    record_event(
        db,
        event_type="iam.login.password",
        outcome="failure",
        actor=f"user:{user.id}" if user else "anonymous",
        resource=f"user:{user.id}" if user else None,
        details={"reason": reason, **details},
    )


def register_failed_second_factor(db: Session, user: User) -> bool:
    """Count a wrong second factor like a wrong password (a TOTP code is only 6 digits); True
    when the account got locked by it."""
    settings = get_settings()
    failures = repository.increment_failed_logins(db, user.id)
    set_committed_value(user, "failed_logins", failures)
    if failures >= settings.lockout_threshold:
        _lock(db, user, utcnow() + timedelta(minutes=settings.lockout_minutes), failures)
        return True
    return False


def clear_failed_logins(db: Session, user: User) -> None:
    if user.failed_logins:
        user.failed_logins = 0
        db.flush()
