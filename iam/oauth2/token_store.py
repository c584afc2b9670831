"""What the provider remembers about tokens: hashed authorization codes and refresh tokens
(families with a monotonic generation), revoked access-token ids until they expire, and revoked
holders: a client or user all of whose tokens issued so far are revoked at once.

Codes and refresh tokens are 256-bit random strings, so a plain SHA-256 is enough to make the
stored value useless to a thief; access tokens are JWTs and only their ``jti`` is kept, and only
once revoked.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy import and_, bindparam, delete, exists, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from core.audit.service import record_event
from core.clock import utcnow
from core.settings import get_settings
from iam.oauth2 import revocation_feed
from iam.oauth2.models import (
    AuthorizationCode,
    RefreshFamily,
    RefreshToken,
    RevokedAccessToken,
    RevokedHolder,
    UsedClientAssertion,
)
from iam.oauth2.verification import DEFAULT_LEEWAY_SECONDS

REFRESH_TOKEN_PREFIX = "rpr_"  # noqa: S105 - the public prefix


def opaque_hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def new_refresh_token() -> str:
    return REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class AccessTokenRef:
    """What revocation needs of a verified access token: its ``jti``, who holds it (the client
    and, for a user's token, the user: ``client:<id>``, ``user:<id>``) and when it was issued."""

    jti: str
    holders: tuple[str, ...]
    issued_at: datetime | None  # None (no iat): any revocation of a holder covers it

    @classmethod
    def from_claims(cls, claims: dict[str, object]) -> AccessTokenRef:
        client_id, subject = str(claims.get("client_id") or ""), str(claims.get("sub") or "")
        holders = [f"client:{client_id}"]
        if subject and subject != client_id:
            holders.append(f"user:{subject}")
        iat = claims.get("iat")
        issued = isinstance(iat, int | float) and not isinstance(iat, bool)
        return cls(
            jti=str(claims.get("jti") or ""),
            holders=tuple(holders),
            issued_at=datetime.fromtimestamp(float(iat), UTC) if issued else None,  # type: ignore[arg-type]
        )


@dataclass(frozen=True, slots=True)
class IssuedAccess:
    """The access token minted in this request, remembered next to what it came from."""

    jti: str
    expires_at: datetime


# ---- authorization codes -------------------------------------------------------------------


def find_code(db: Session, code: str, *, lock: bool = False) -> AuthorizationCode | None:
    query = select(AuthorizationCode).where(AuthorizationCode.code_hash == opaque_hash(code))
    if lock:
        query = query.with_for_update()
    return db.execute(query).scalar_one_or_none()


def mark_code_used(db: Session, row: AuthorizationCode) -> bool:
    """Set ``used_at`` unless someone did first (conditional update: two racing redemptions
    cannot both win)."""
    result = db.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.id == row.id, AuthorizationCode.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    won = bool(getattr(result, "rowcount", 0) == 1)
    db.refresh(row)
    return won


def revoke_code_descendants(db: Session, row: AuthorizationCode, reason: str) -> None:
    """A replayed code: revoke the access token and the refresh family issued from it."""
    if row.issued_access_jti and row.issued_access_expires_at:
        revoke_access_jti(
            db, row.issued_access_jti, row.client_id, row.issued_access_expires_at, reason
        )
    if row.issued_family_id is not None:
        family = db.get(RefreshFamily, row.issued_family_id)
        if family is not None:
            revoke_family(db, family, reason)


# ---- refresh-token families ----------------------------------------------------------------


def start_family(
    db: Session,
    *,
    client_id: str,
    user_id: UUID,
    scope: str,
    auth_time: datetime,
    amr: list[str],
    acr: str | None,
    sid: str | None,
    lifetime_seconds: int,
) -> RefreshFamily:
    now = utcnow()
    family = RefreshFamily(
        client_id=client_id,
        user_id=user_id,
        scope=scope,
        auth_time=auth_time,
        amr=amr,
        acr=acr,
        sid=sid,
        current_generation=0,
        created_at=now,
        expires_at=now + timedelta(seconds=lifetime_seconds),
    )
    db.add(family)
    db.flush()
    return family


def add_generation(
    db: Session, family: RefreshFamily, token: str, access: IssuedAccess
) -> RefreshToken:
    """Store the next generation; the unique (family, generation) index makes two concurrent
    rotations of the same token collide instead of forking the family."""
    family.current_generation += 1
    row = RefreshToken(
        family_id=family.id,
        generation=family.current_generation,
        token_hash=opaque_hash(token),
        created_at=utcnow(),
        access_jti=access.jti,
        access_expires_at=access.expires_at,
    )
    db.add(row)
    db.flush()
    return row


@dataclass(frozen=True, slots=True)
class RefreshLookup:
    token: RefreshToken
    family: RefreshFamily

    @property
    def is_current(self) -> bool:
        return self.token.generation == self.family.current_generation

    @property
    def usable(self) -> bool:
        return (
            self.is_current and self.family.revoked_at is None and self.family.expires_at > utcnow()
        )


def find_refresh_token(db: Session, token: str, *, lock: bool = False) -> RefreshLookup | None:
    """The generation and its family; ``lock`` holds the family row (PostgreSQL) so two
    concurrent rotations of one token are serialized: the second one is seen as reuse."""
    if not token.startswith(REFRESH_TOKEN_PREFIX) or len(token) > 200:
        return None
    query = (
        select(RefreshToken, RefreshFamily)
        .join(RefreshFamily, RefreshFamily.id == RefreshToken.family_id)
        .where(RefreshToken.token_hash == opaque_hash(token))
    )
    if lock:
        query = query.with_for_update(of=RefreshFamily)
    row = db.execute(query).one_or_none()
    if row is None:
        return None
    return RefreshLookup(token=row[0], family=row[1])


def revoke_family(db: Session, family: RefreshFamily, reason: str) -> list[str]:
    """Revoke every generation and every still-live access token issued with them."""
    if family.revoked_at is None:
        family.revoked_at = utcnow()
        family.revoked_reason = reason
    now = utcnow()
    tokens = db.execute(
        select(RefreshToken.access_jti, RefreshToken.access_expires_at).where(
            RefreshToken.family_id == family.id, RefreshToken.access_expires_at > now
        )
    ).all()
    jtis = [jti for jti, expires_at in tokens]
    for jti, expires_at in tokens:
        revoke_access_jti(db, jti, family.client_id, expires_at, reason)
    db.flush()
    return jtis


def _revoke_families_where(db: Session, condition: ColumnElement[bool], reason: str) -> int:
    families = db.execute(
        select(RefreshFamily).where(condition, RefreshFamily.revoked_at.is_(None))
    ).scalars()
    count = 0
    for family in families:
        revoke_family(db, family, reason)
        count += 1
    return count


def revoke_families_of_client(db: Session, client_id: str, reason: str) -> int:
    return _revoke_families_where(db, RefreshFamily.client_id == client_id, reason)


def revoke_families_of_user(db: Session, user_id: UUID, reason: str) -> int:
    return _revoke_families_where(db, RefreshFamily.user_id == user_id, reason)


def revoke_families_of_session(db: Session, sid: str, reason: str) -> int:
    return _revoke_families_where(db, RefreshFamily.sid == sid, reason)


# ---- revoked access tokens -----------------------------------------------------------------


def revoke_access_jti(
    db: Session, jti: str, client_id: str, expires_at: datetime, reason: str
) -> None:
    """Idempotent: a jti already revoked stays revoked with its first reason."""
    if expires_at <= utcnow():
        return
    if db.get(RevokedAccessToken, jti) is not None:
        revocation_cache_invalidate(jti, expires_at)  # revoked elsewhere: stop trusting a cache
        return
    try:
        with db.begin_nested():
            db.add(
                RevokedAccessToken(
                    jti=jti, client_id=client_id, expires_at=expires_at, reason=reason
                )
            )
    except IntegrityError:
        pass  # revoked concurrently: same outcome
    revocation_cache_invalidate(jti, expires_at)
    revocation_feed.announce_after_commit(db, revocation_feed.jti_message(jti, expires_at))


# How stale the guard may be about another process's revocation. The promise is 1 s on every
# replica; half of it leaves room for the read and the request itself on a loaded machine (one
# CI run measured 1.32 s with a 1 s cache), for one primary-key read per token every ~0.4 s.
REVOCATION_CACHE_SECONDS = 0.5
REFRESH_AHEAD_FRACTION = 0.25  # an answer this close to its end is read again in the background
_CACHE_MAX_ENTRIES = 100_000  # bounded memory under a flood of distinct tokens


class GuardRevocations:
    """Process-local answers for the guard: ``jti -> not revoked`` for at most ``ttl`` seconds,
    and what this process revoked — jtis and holders (a client's or user's every token) until
    their tokens expire — checked first so a stale cached answer can never let them through."""

    def __init__(
        self, ttl: float = REVOCATION_CACHE_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self._not_revoked_until: dict[str, float] = {}
        self._refs: dict[str, AccessTokenRef] = {}  # what a fresh answer was about
        self._revoked_here: dict[str, float] = {}
        self._holders_revoked_here: dict[str, tuple[datetime, float]] = {}
        self._lock = threading.Lock()

    def _holder_revoked_here(self, ref: AccessTokenRef | None) -> bool:
        if ref is None or not self._holders_revoked_here:
            return False
        for holder in ref.holders:
            found = self._holders_revoked_here.get(holder)
            if found is not None and (ref.issued_at is None or ref.issued_at <= found[0]):
                return True
        return False

    def is_revoked(
        self, jti: str, read_exact: Callable[[], bool], ref: AccessTokenRef | None = None
    ) -> bool:
        now = self.clock()
        if jti in self._revoked_here or self._holder_revoked_here(ref):
            return True
        until = self._not_revoked_until.get(jti)
        if until is not None and until > now:
            return False
        if read_exact():
            return True
        with self._lock:
            if len(self._not_revoked_until) >= _CACHE_MAX_ENTRIES:
                self._not_revoked_until.clear()
                self._refs.clear()
            self._not_revoked_until[jti] = now + self.ttl
            if ref is not None:
                self._refs[jti] = ref
        return False

    def ref_of(self, jti: str) -> AccessTokenRef | None:
        return self._refs.get(jti)

    def known_not_revoked(self, jti: str) -> bool:
        """True only while a fresh answer says so (never reads the database)."""
        if jti in self._revoked_here or self._holder_revoked_here(self._refs.get(jti)):
            return False
        until = self._not_revoked_until.get(jti)
        return until is not None and until > self.clock()

    def due_for_refresh(self, jti: str) -> bool:
        """A fresh answer in the last quarter of its life: read again now (:meth:`refresh`),
        so a token in steady use never finds its answer expired and every request in flight
        verifying it from scratch at once."""
        until = self._not_revoked_until.get(jti)
        return until is not None and until - self.clock() < self.ttl * REFRESH_AHEAD_FRACTION

    def refresh(self, jti: str, read_exact: Callable[[], bool]) -> None:
        """Read ``jti``'s state now: a fresh answer for another ``ttl``, or none when it was
        revoked (its next request then takes the full check and is refused)."""
        now = self.clock()  # before the read: the answer is never older than it claims
        revoked = read_exact()
        with self._lock:
            if revoked or jti in self._revoked_here:
                self._not_revoked_until.pop(jti, None)
            elif jti in self._not_revoked_until:
                self._not_revoked_until[jti] = now + self.ttl

    def revoked_here(self, jti: str, expires_at: datetime | None) -> None:
        now = self.clock()
        remaining = (expires_at - utcnow()).total_seconds() if expires_at is not None else 86_400.0
        with self._lock:
            self._revoked_here[jti] = now + max(remaining, self.ttl)
            self._not_revoked_until.pop(jti, None)
            if len(self._revoked_here) > _CACHE_MAX_ENTRIES:  # drop those past their expiry
                self._revoked_here = {k: v for k, v in self._revoked_here.items() if v > now}

    def holder_revoked_here(self, holder: str, revoked_before: datetime, keep: float) -> None:
        """Every token of ``holder`` issued up to ``revoked_before`` is refused from now on, for
        ``keep`` seconds (its tokens' longest life). Rare (a client deleted, a user disabled):
        every fresh answer is dropped, so the next request of any token reads the database."""
        now = self.clock()
        with self._lock:
            self._holders_revoked_here = {
                k: v for k, v in self._holders_revoked_here.items() if v[1] > now
            }
            self._holders_revoked_here[holder] = (revoked_before, now + max(keep, self.ttl))
            self._not_revoked_until.clear()
            self._refs.clear()

    def forget_answers(self) -> None:
        """Drop every "not revoked" answer (what this process revoked is kept)."""
        with self._lock:
            self._not_revoked_until.clear()
            self._refs.clear()

    def forget(self) -> None:
        with self._lock:
            self._not_revoked_until.clear()
            self._refs.clear()
            self._revoked_here.clear()
            self._holders_revoked_here.clear()


guard_revocations = GuardRevocations()

_revoked_jti = select(RevokedAccessToken.jti).where(RevokedAccessToken.jti == bindparam("jti"))


def is_access_revoked(db: Session, jti: str) -> bool:
    """Exact: one primary-key lookup, no cache (a revocation counts at once, in every process)."""
    return db.execute(_revoked_jti, {"jti": jti}).first() is not None


def is_token_revoked(db: Session, ref: AccessTokenRef) -> bool:
    """Exact, no cache: the token's ``jti`` was revoked, or every token of its client or user
    issued up to then was (one round trip)."""
    holder_revoked: ColumnElement[bool] = RevokedHolder.holder.in_(ref.holders)
    if ref.issued_at is not None:
        holder_revoked = and_(holder_revoked, RevokedHolder.revoked_before >= ref.issued_at)
    query = select(literal(1)).where(
        or_(
            exists().where(RevokedAccessToken.jti == ref.jti),
            exists().where(holder_revoked),
        )
    )
    return db.execute(query).first() is not None


def is_token_revoked_for_guard(db: Session, ref: AccessTokenRef) -> bool:
    """The check of the zero-trust guard and of introspection, from memory: a revocation by this
    process counts at once, one by another process as soon as the revocation feed delivers it
    (Redis) or within REVOCATION_CACHE_SECONDS (see docs/identity.md). Userinfo keeps
    :func:`is_token_revoked` (exact)."""
    revocation_feed.ensure_subscribed()
    return guard_revocations.is_revoked(ref.jti, lambda: is_token_revoked(db, ref), ref)


def revoke_holder(db: Session, holder: str, reason: str) -> None:
    """Revoke every access token ``holder`` (``client:<id>``, ``user:<id>``) was issued so far.
    This process's guard refuses them at once; every other one within REVOCATION_CACHE_SECONDS
    of the commit (it reads the marker row)."""
    now = utcnow()
    keep = get_settings().access_token_ttl + DEFAULT_LEEWAY_SECONDS
    expires_at = now + timedelta(seconds=keep)
    guard_revocations.holder_revoked_here(holder, now, keep)  # before the commit: fail closed
    revocation_feed.announce_after_commit(db, revocation_feed.holder_message(holder, now, keep))
    row = db.get(RevokedHolder, holder)
    if row is None:
        try:
            with db.begin_nested():
                db.add(
                    RevokedHolder(
                        holder=holder, revoked_before=now, expires_at=expires_at, reason=reason
                    )
                )
            return
        except IntegrityError:  # revoked concurrently: move that marker forward instead
            row = db.get(RevokedHolder, holder)
            if row is None:
                raise
    row.revoked_before = max(row.revoked_before, now)
    row.expires_at = max(row.expires_at, expires_at)
    row.reason = reason
    db.flush()


def revocation_cache_invalidate(jti: str, expires_at: datetime | None = None) -> None:
    """This process revoked ``jti``: its guard refuses it from now on, without waiting for a
    cached answer to expire (nor for the revoking transaction to commit: fail closed)."""
    guard_revocations.revoked_here(jti, expires_at)


def record_assertion_jti(db: Session, client_id: str, jti: str, expires_at: datetime) -> bool:
    """False when this client already used ``jti`` (a replayed private_key_jwt assertion)."""
    key = opaque_hash(f"{client_id}\x00{jti}")
    if db.get(UsedClientAssertion, key) is not None:
        return False
    try:
        with db.begin_nested():
            db.add(UsedClientAssertion(jti_hash=key, expires_at=expires_at))
    except IntegrityError:
        return False
    return True


def purge_expired(db: Session) -> dict[str, int]:
    """Drop what can no longer matter: expired codes, revoked jtis and assertion ids past their
    expiry, expired families. For the scheduled cleanup job."""
    now = utcnow()
    counts: dict[str, int] = {}
    statements: Iterable[tuple[str, object]] = (
        (
            "codes",
            delete(AuthorizationCode).where(AuthorizationCode.expires_at < now - timedelta(days=1)),
        ),
        ("revoked_jtis", delete(RevokedAccessToken).where(RevokedAccessToken.expires_at < now)),
        ("revoked_holders", delete(RevokedHolder).where(RevokedHolder.expires_at < now)),
        ("assertions", delete(UsedClientAssertion).where(UsedClientAssertion.expires_at < now)),
        ("families", delete(RefreshFamily).where(RefreshFamily.expires_at < now)),
    )
    for name, statement in statements:
        result = db.execute(statement)  # type: ignore[call-overload]
        counts[name] = int(getattr(result, "rowcount", 0) or 0)
    db.flush()
    if any(counts.values()):
        record_event(db, event_type="oauth2.tokens.purged", details=counts)
    return counts
