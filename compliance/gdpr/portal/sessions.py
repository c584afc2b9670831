"""Portal sessions of verified e-mail addresses: a random token in their own cookie (HttpOnly,
SameSite=Strict, Secure and ``__Host-`` under https), only its HMAC in the database (so any
replica can read it), 30 minutes at most, deleted on sign-out (and once expired, when the next
one starts).

A portal session's caller is named ``user:privacy:<subject>`` (:data:`PORTAL_SUBJECT_PREFIX`),
never ``user:<account id>``: a policy line or role link written for the account's password login
must not apply to someone who only proved they read its mailbox. Its one role is
``data_subject``."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from compliance.gdpr.portal.models import PortalSession
from core.authz import Principal
from core.clock import utcnow
from iam.sessions import secret_keys, tokens
from iam.sessions.service import is_https

SESSION_LIFETIME = timedelta(minutes=30)
HMAC_LABEL = "privacy-session-hmac"
DATA_SUBJECT_ROLE = "data_subject"
PORTAL_SUBJECT_PREFIX = "privacy:"
PORTAL_AMR = "email"  # the address was proven by a code mailed to it


def cookie_name() -> str:
    return "__Host-rampart_privacy" if is_https() else "rampart_privacy"


def _digest(db: Session, token: str) -> str:
    key = secret_keys.derived_key(db, HMAC_LABEL)
    return hmac.new(key, token.encode("ascii"), hashlib.sha256).hexdigest()


def start_portal_session(db: Session, response: Response, *, subject: str, email: str) -> None:
    token = tokens.new_token()
    now = utcnow()
    # Expired sessions go as new ones start: no address outlives its session by much.
    db.execute(
        delete(PortalSession)
        .where(PortalSession.expires_at <= now)
        .execution_options(synchronize_session=False)
    )
    db.add(
        PortalSession(
            token_hash=_digest(db, token),
            subject=subject,
            email=email,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    db.flush()
    response.set_cookie(
        cookie_name(),
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=is_https(),
        path="/",
    )


def load_portal_session(db: Session, request: Request) -> PortalSession | None:
    token = request.cookies.get(cookie_name())
    if not tokens.is_well_formed(token):
        return None
    assert token is not None  # noqa: S101 - narrowed by is_well_formed
    return db.scalars(
        select(PortalSession).where(
            PortalSession.token_hash == _digest(db, token),
            PortalSession.ended_at.is_(None),
            PortalSession.expires_at > utcnow(),
        )
    ).one_or_none()


def end_portal_session(db: Session, request: Request, response: Response) -> bool:
    row = load_portal_session(db, request)
    response.delete_cookie(
        cookie_name(), path="/", httponly=True, samesite="strict", secure=is_https()
    )
    if row is None:
        return False
    db.delete(row)  # the address it held goes with it
    db.flush()
    return True


def portal_principal(db: Session, request: Request) -> Principal | None:
    """The caller of this browser's portal session, or None (see the module's note on names)."""
    row = load_portal_session(db, request)
    if row is None:
        return None
    return Principal(
        subject=PORTAL_SUBJECT_PREFIX + row.subject,
        kind="user",
        roles=(DATA_SUBJECT_ROLE,),
        amr=(PORTAL_AMR,),
        auth_time=row.created_at,
    )


def data_subject_of(principal: Principal) -> str:
    """The data subject a portal caller acts for: the account id of a login, or the portal
    session's subject."""
    if principal.subject.startswith(PORTAL_SUBJECT_PREFIX):
        return principal.subject.removeprefix(PORTAL_SUBJECT_PREFIX)
    return principal.subject
