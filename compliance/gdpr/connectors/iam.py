"""The IdP's accounts and sessions. Erasure revokes every session and token (in every process
within a second, through iam's own revocation) and then DELETES the account: its roles,
factors, sessions and grants go with it by cascade, and the audit ledger's ``user:<id>`` entries
then map to no one. Deleting rather than anonymising leaves no tombstone holding an address."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.orm import Session

from compliance.gdpr.connectors.base import (
    ConnectorOutcome,
    ConnectorRequest,
    Dataset,
    LegalHold,
    ProcessingInfo,
    RequestType,
)
from core.audit.service import record_event

if TYPE_CHECKING:
    from iam.accounts.models import User

NAME = "rampart.iam"
# Members of this role have asked for restriction (Art. 18): policies and shop services that
# profile or contact customers exclude them; their data is kept, not used.
RESTRICTED_ROLE = "gdpr_restricted"
RECTIFIABLE = ("name", "email")
INFO = ProcessingInfo(
    purposes=("authentication", "account security"),
    categories=("user.contact.email", "user.name", "user.authorization"),
    recipients=("the shop services you log in to (through OpenID Connect)",),
    retention="while the account exists; ended sessions are purged after their retention",
    source="you, at registration and login",
)


class IamConnector:
    name = NAME

    def supports(self, request_type: RequestType) -> bool:
        return True

    def fulfil(self, session: Session, request: ConnectorRequest) -> ConnectorOutcome:
        from iam.accounts import service as accounts

        try:
            user_id = UUID(request.subject.subject)
        except ValueError:
            return ConnectorOutcome(NAME, "not_applicable", detail="the subject has no account")
        user = accounts.get_user(session, user_id)
        if user is None:
            if request.type == "erasure":  # erased before (a resumed request): still done
                return ConnectorOutcome(NAME, "done", method="deleted", detail="no account")
            return ConnectorOutcome(NAME, "not_applicable", detail="no account")
        actor = f"dsar:{request.request_id}"
        if request.type in ("access", "portability"):
            return _export(session, user)
        if request.type == "rectification":
            return _rectify(session, user, request, actor)
        if request.type == "erasure":
            _zero_freed_pages(session)
            accounts.disable_user(session, user, reason="GDPR erasure request")
            accounts.delete_user(session, user, reason="GDPR erasure request")
            return ConnectorOutcome(
                NAME,
                "done",
                rows_affected=1,
                method="deleted",
                holds=(
                    LegalHold(
                        what="revocation markers of the account's tokens (by account id only)",
                        legal_basis="security: revoked tokens must stay refused until they expire",
                        retention="until the last access token's expiry",
                    ),
                ),
            )
        if request.type == "restriction":
            accounts.ensure_role(session, RESTRICTED_ROLE, description="Art. 18 restriction")
            if RESTRICTED_ROLE not in user.roles:
                accounts.create_user(session, user.email, roles=[*user.roles, RESTRICTED_ROLE])
            return ConnectorOutcome(
                NAME,
                "done",
                rows_affected=1,
                method="restricted",
                detail=f"role {RESTRICTED_ROLE}: login stays possible, other processing stops",
            )
        record_event(
            session,
            event_type="gdpr.objection.recorded",
            resource=f"user:{user.id}",
            details={"purposes": list(request.purposes)},
            actor=actor,
        )
        return ConnectorOutcome(NAME, "done", rows_affected=1, method="objection-recorded")


def _zero_freed_pages(session: Session) -> None:
    # As the vault's erasure does: SQLite overwrites the deleted rows' bytes with zeros.
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA secure_delete=ON"))


def _export(session: Session, user: User) -> ConnectorOutcome:
    from iam.mfa.service import mfa_methods
    from iam.personal_data import grants_of_user, sessions_of_user

    account = {
        "id": str(user.id),
        "email": user.email,
        "email_verified": user.email_verified,
        "name": user.name,
        "status": user.status,
        "created_at": user.created_at.isoformat(),
        "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
        "roles": ", ".join(user.roles),
        "mfa_methods": ", ".join(mfa_methods(session, user.id)),
    }
    sessions = sessions_of_user(session, user.id)
    grants = grants_of_user(session, user.id)
    return ConnectorOutcome(
        NAME,
        "done",
        rows_affected=1 + len(sessions) + len(grants),
        method="exported",
        datasets=(
            Dataset("account", (account,), ("user.contact.email", "user.name")),
            Dataset("login_sessions", tuple(sessions), ("user.authorization",)),
            Dataset("oauth_grants", tuple(grants), ("user.authorization",)),
        ),
        info=INFO,
    )


def _rectify(
    session: Session, user: User, request: ConnectorRequest, actor: str
) -> ConnectorOutcome:
    from iam.accounts import service as accounts
    from iam.accounts.exceptions import InvalidEmail

    unknown = sorted(set(request.changes) - set(RECTIFIABLE))
    if unknown:
        return ConnectorOutcome(
            NAME, "failed", detail="fields not held by accounts: " + ", ".join(unknown)
        )
    changed: list[str] = []
    if "email" in request.changes:
        try:
            email = accounts.normalize_email(request.changes["email"])
        except InvalidEmail:
            return ConnectorOutcome(NAME, "failed", detail="the new e-mail address is not valid")
        if email != user.email:
            if accounts.get_user_by_email(session, email) is not None:
                return ConnectorOutcome(NAME, "failed", detail="the new address has an account")
            user.email = email
            user.email_verified = False
            changed.append("email")
    if "name" in request.changes and request.changes["name"].strip() != user.name:
        user.name = request.changes["name"].strip()[:200]
        changed.append("name")
    session.flush()
    if changed:
        record_event(
            session,
            event_type="iam.user.rectified",
            resource=f"user:{user.id}",
            details={"fields": changed},
            actor=actor,
        )
    return ConnectorOutcome(NAME, "done", rows_affected=len(changed), method="rectified")


connector = IamConnector()
