"""Users and roles: create-or-update (idempotent, for `rampart apply`), password changes under the
rules, disable/enable, the first admin. Flushes; the caller's unit of work commits."""

from __future__ import annotations

import re
from collections.abc import Sequence
from uuid import UUID

from sqlalchemy.orm import Session

from core.audit.service import record_event
from core.clock import utcnow
from core.errors import Conflict, ValidationFailed
from iam.accounts import repository
from iam.accounts.exceptions import InvalidEmail, PasswordRejected, UserNotFound
from iam.accounts.models import PasswordHistory, Role, User
from iam.accounts.password_rules import HISTORY_DEPTH, password_problems
from iam.accounts.passwords import hash_password, verify_password
from iam.sessions.repository import end_all_sessions

# Roles every installation knows; those requiring MFA force enrolment at their members' login.
BUILTIN_ROLES: dict[str, tuple[str, bool]] = {
    "admin": ("Administers Rampart: users, clients, keys, policies.", True),
    "security_staff": ("Runs scans, reviews findings, manages policies.", True),
    "compliance_officer": ("Reviews controls and evidence.", False),
    "auditor": ("Reads evidence and the audit ledger.", False),
    "staff": ("Member of the shop's staff.", False),
    "customer": ("Customer of the shop.", False),
}
ADMIN_ROLE = "admin"

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
_ROLE_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")


def normalize_email(email: str) -> str:
    normalized = email.strip().lower()
    if not _EMAIL.fullmatch(normalized):
        raise InvalidEmail("enter an email address such as name@example.com")
    return normalized


def get_user(db: Session, user_id: UUID) -> User | None:
    """The user with roles loaded (``user.roles``), for userinfo and ID-token claims."""
    return repository.get_user(db, user_id)


def get_user_by_email(db: Session, email: str) -> User | None:
    try:
        return repository.get_user_by_email(db, normalize_email(email))
    except InvalidEmail:
        return None


def require_user(db: Session, user_ref: str) -> User:
    """A user by id or email, or UserNotFound."""
    user: User | None
    try:
        user = repository.get_user(db, UUID(user_ref))
    except ValueError:
        user = get_user_by_email(db, user_ref)
    if user is None:
        raise UserNotFound(f"no user {user_ref!r}")
    return user


def list_users(db: Session, *, status: str | None = None) -> Sequence[User]:
    return repository.list_users(db, status=status)


def ensure_role(
    db: Session, name: str, *, requires_mfa: bool | None = None, description: str | None = None
) -> Role:
    """Create the role or update what is given. Idempotent."""
    if not _ROLE_NAME.fullmatch(name):
        raise ValidationFailed(f"role name {name!r}: lower-case letters, digits, '_', '.', '-'")
    role = repository.get_role(db, name)
    builtin = BUILTIN_ROLES.get(name)
    if role is None:
        role = Role(
            name=name,
            description=description if description is not None else (builtin or ("", False))[0],
            requires_mfa=requires_mfa if requires_mfa is not None else bool(builtin and builtin[1]),
        )
        db.add(role)
        db.flush()
        record_event(
            db,
            event_type="iam.role.created",
            resource=f"role:{name}",
            details={"requires_mfa": role.requires_mfa},
        )
        return role
    changed: dict[str, object] = {}
    if requires_mfa is not None and requires_mfa != role.requires_mfa:
        role.requires_mfa = requires_mfa
        changed["requires_mfa"] = requires_mfa
    if description is not None and description != role.description:
        role.description = description
        changed["description"] = description
    if changed:
        db.flush()
        record_event(db, event_type="iam.role.updated", resource=f"role:{name}", details=changed)
    return role


def _resolve_roles(db: Session, names: Sequence[str]) -> list[Role]:
    """Existing roles by name; built-in ones are created on first use, unknown ones refused."""
    wanted = sorted(set(names))
    found = {role.name: role for role in repository.get_roles(db, wanted)}
    for name in wanted:
        if name not in found:
            if name not in BUILTIN_ROLES:
                raise ValidationFailed(f"unknown role {name!r}; create it first")
            found[name] = ensure_role(db, name)
    return [found[name] for name in wanted]


def roles_require_mfa(user: User) -> bool:
    return any(role.requires_mfa for role in user.role_rows)


def create_user(
    db: Session,
    email: str,
    *,
    password: str | None = None,
    name: str | None = None,
    roles: Sequence[str] | None = None,
    email_verified: bool | None = None,
) -> tuple[User, bool]:
    """Create the user, or update the fields given when the email exists. Returns (user, created).

    Idempotent: the same call twice changes nothing the second time (a password equal to the
    current one is left alone). A refused password raises PasswordRejected and writes nothing.
    """
    normalized = normalize_email(email)
    user = repository.get_user_by_email(db, normalized)
    role_rows = _resolve_roles(db, roles) if roles is not None else None
    if user is None:
        if password is not None:
            _check_rules(password, normalized)
        user = User(
            email=normalized,
            name=name,
            email_verified=bool(email_verified),
            status="active",
            role_rows=role_rows or [],
        )
        db.add(user)
        db.flush()
        record_event(
            db,
            event_type="iam.user.created",
            resource=f"user:{user.id}",
            details={"roles": user.roles, "local_login": password is not None},
        )
        if password is not None:
            _store_password(db, user, password)
        return user, True

    changed: dict[str, object] = {}
    if name is not None and name != user.name:
        user.name = name
        changed["name"] = True
    if email_verified is not None and email_verified != user.email_verified:
        user.email_verified = email_verified
        changed["email_verified"] = email_verified
    if role_rows is not None and [r.name for r in role_rows] != user.roles:
        user.role_rows = role_rows
        changed["roles"] = [r.name for r in role_rows]
    if changed:
        db.flush()
        record_event(db, event_type="iam.user.updated", resource=f"user:{user.id}", details=changed)
    if password is not None and not (
        user.password_hash and verify_password(user.password_hash, password)
    ):
        set_password(db, user, password)
    return user, False


def register_user(
    db: Session,
    email: str,
    *,
    password: str | None = None,
    name: str | None = None,
    roles: Sequence[str] | None = None,
) -> User:
    """Create a new account; an existing email is refused (Conflict), never updated, so a
    typo'd `user create` cannot silently replace someone's password (see reset_password)."""
    normalized = normalize_email(email)
    if repository.get_user_by_email(db, normalized) is not None:
        raise Conflict(
            f"user {normalized} already exists; use `rampart user reset-password` to set a new"
            " password"
        )
    user, _ = create_user(db, normalized, password=password, name=name, roles=roles)
    return user


def reset_password(db: Session, user: User, password: str, *, reason: str) -> None:
    """An administrator sets a new password under the rules and ends the user's sessions
    (whoever held the old password is logged out); audited with who did it and why."""
    set_password(db, user, password)
    ended = end_all_sessions(db, user.id)
    record_event(
        db,
        event_type="iam.user.password_reset",
        resource=f"user:{user.id}",
        details={"reason": reason[:100], "sessions_ended": ended},
    )


def _check_rules(password: str, email: str) -> None:
    problems = password_problems(password, email=email)
    if problems:
        raise PasswordRejected(problems)


def set_password(db: Session, user: User, password: str) -> None:
    """Change the password under the rules, refusing any of the last four (PCI DSS 8.3.7)."""
    _check_rules(password, user.email)
    history = repository.password_history(db, user.id)[:HISTORY_DEPTH]
    if any(verify_password(row.password_hash, password) for row in history):
        raise PasswordRejected(
            [f"Choose a password you have not used for your last {HISTORY_DEPTH}."]
        )
    _store_password(db, user, password)


def _store_password(db: Session, user: User, password: str) -> None:
    now = utcnow()
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    user.failed_logins = 0
    user.locked_until = None
    db.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash, created_at=now))
    db.flush()
    repository.prune_password_history(db, user.id, keep=HISTORY_DEPTH)
    record_event(db, event_type="iam.user.password_set", resource=f"user:{user.id}")


def disable_user(db: Session, user: User, *, reason: str = "disabled by an administrator") -> bool:
    """Disable the account, end its login sessions and revoke every token it holds (refresh and
    access, in every process within a second); False when it already was disabled."""
    if user.status == "disabled":
        return False
    user.status = "disabled"
    user.disabled_at = utcnow()
    user.disabled_reason = reason[:100]
    db.flush()
    # Imported here: tokens depend on accounts, not the other way round.
    from iam.oauth2 import token_store

    ended = end_all_sessions(db, user.id)
    families = token_store.revoke_families_of_user(db, user.id, "user_disabled")
    token_store.revoke_holder(db, f"user:{user.id}", "user_disabled")  # every access token
    record_event(
        db,
        event_type="iam.user.disabled",
        resource=f"user:{user.id}",
        details={
            "reason": user.disabled_reason,
            "sessions_ended": ended,
            "revoked_families": families,
        },
    )
    return True


def enable_user(db: Session, user: User) -> bool:
    """Enable a disabled account, or lift a lockout (failed-login count included) from an
    active one; False when there was nothing to do."""
    if user.status == "active":
        if user.locked_until is None and not user.failed_logins:
            return False
        user.failed_logins = 0
        user.locked_until = None
        db.flush()
        record_event(db, event_type="iam.user.unlocked", resource=f"user:{user.id}")
        return True
    user.status = "active"
    user.disabled_at = None
    user.disabled_reason = None
    user.failed_logins = 0
    user.locked_until = None
    # A re-enabled account starts a fresh inactivity period (else the job disables it again).
    user.last_login_at = utcnow()
    db.flush()
    record_event(db, event_type="iam.user.enabled", resource=f"user:{user.id}")
    return True


def delete_user(db: Session, user: User, *, reason: str) -> None:
    """Delete the account and, by cascade, its roles, sessions, factors and grants (compliance
    probes remove their canary accounts this way)."""
    user_id = user.id
    repository.delete_user(db, user_id)
    db.expunge(user)
    record_event(
        db, event_type="iam.user.deleted", resource=f"user:{user_id}", details={"reason": reason}
    )


def has_admin(db: Session) -> bool:
    """Whether any account holds the admin role (``init`` asks for a password only if not)."""
    return bool(repository.users_with_role(db, ADMIN_ROLE))


def ensure_first_admin(db: Session, email: str, password: str) -> tuple[User, bool]:
    """The first administrator: created when no admin exists yet. Returns (user, created).

    Idempotent: when an admin exists already, nothing changes and that admin is returned (the
    one with this email if there is one). An existing non-admin user with this email becomes
    admin (created=False) without a password change.
    """
    normalized = normalize_email(email)
    admins = repository.users_with_role(db, ADMIN_ROLE)
    if admins:
        chosen = next((u for u in admins if u.email == normalized), admins[0])
        return require_user(db, str(chosen.id)), False
    existing = repository.get_user_by_email(db, normalized)
    if existing is not None:
        user, _ = create_user(db, normalized, roles=[*existing.roles, ADMIN_ROLE])
        return user, False
    return create_user(db, normalized, password=password, roles=[ADMIN_ROLE], email_verified=True)
