"""The audit ledger: never deleted (hash chain; PCI DSS v4.0.1 10.5.1 keeps it 12 months), and
pseudonymised: entries name a customer only by account id (``user:<uuid>``), never by address or
name, so once the account is erased nothing maps the id back to the person. Access copies the
entries about the subject (type, time, outcome)."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from compliance.gdpr.connectors.base import (
    ConnectorOutcome,
    ConnectorRequest,
    Dataset,
    LegalHold,
    ProcessingInfo,
    RequestType,
)

NAME = "rampart.audit"
MAX_ENTRIES = 10_000
HOLD = LegalHold(
    what="audit ledger entries naming the account by its id only (pseudonymised)",
    legal_basis="PCI DSS v4.0.1 10.5.1: audit trail retained 12 months; GDPR Art. 17(3)(b)"
    " legal obligation and (e) defence of legal claims",
    retention="P12M",
)
INFO = ProcessingInfo(
    purposes=("security monitoring", "legal obligation: audit trail"),
    categories=("user.unique_id", "system.operations"),
    recipients=("the shop's security staff and auditors",),
    retention="12 months (PCI DSS 10.5.1)",
    source="Rampart, recording what happened to your account",
)


class AuditConnector:
    name = NAME

    def supports(self, request_type: RequestType) -> bool:
        return request_type in ("access", "portability", "erasure")

    def fulfil(self, session: Session, request: ConnectorRequest) -> ConnectorOutcome:
        if request.type == "erasure":
            return ConnectorOutcome(
                NAME,
                "done",
                method="pseudonymised",
                holds=(HOLD,),
                detail="entries kept under the retention hold; they hold only the account id",
            )
        records = _entries_about(session, request.subject.subject)
        if not records:
            return ConnectorOutcome(NAME, "not_applicable", detail="no entries about the subject")
        return ConnectorOutcome(
            NAME,
            "done",
            rows_affected=len(records),
            method="exported",
            datasets=(Dataset("audit_entries", tuple(records), INFO.categories),),
            holds=(HOLD,),
            info=INFO,
        )


def _entries_about(session: Session, subject: str) -> list[dict[str, str]]:
    from core.audit.models import AuditEntry

    who = f"user:{subject}"
    query = (
        select(AuditEntry.occurred_at, AuditEntry.event_type, AuditEntry.outcome)
        .where(or_(AuditEntry.actor == who, AuditEntry.resource == who))
        .order_by(AuditEntry.seq)
        .limit(MAX_ENTRIES)
    )
    return [
        {"occurred_at": at.isoformat(), "event_type": kind, "outcome": outcome}
        for at, kind, outcome in session.execute(query).all()
    ]


connector = AuditConnector()
