"""The vault's tokens by subject: access/portability copies each token (PII values decrypted,
card numbers masked), erasure crypto-shreds the subject's keys in every tenant holding it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from compliance.gdpr.connectors.base import (
    ConnectorOutcome,
    ConnectorRequest,
    Dataset,
    LegalHold,
    ProcessingInfo,
    RequestType,
)

NAME = "rampart.vault"
INFO = ProcessingInfo(
    purposes=("payment processing", "order fulfilment", "customer service"),
    categories=("user.financial", "user.contact", "user.name"),
    recipients=("the shop services that tokenized the values",),
    retention="until erasure, or the token's expiry",
    source="the shop services you used (checkout, customer account)",
)


class VaultConnector:
    name = NAME

    def supports(self, request_type: RequestType) -> bool:
        return request_type in ("access", "portability", "erasure")

    def fulfil(self, session: Session, request: ConnectorRequest) -> ConnectorOutcome:
        from vault.lifecycle import erase_subject
        from vault.subjects import subject_tenants, subject_tokens

        subject = request.subject.subject
        if request.type in ("access", "portability"):
            tokens = subject_tokens(session, subject)
            if not tokens:
                return ConnectorOutcome(NAME, "not_applicable", detail="no tokens of the subject")
            records = tuple(
                {
                    "id": t.id,
                    "tenant": t.tenant,
                    "type": t.token_type,
                    "format": t.token_format,
                    "created_at": t.created_at.isoformat(),
                    "expires_at": t.expires_at.isoformat() if t.expires_at else None,
                    "value": t.value,
                }
                for t in tokens
            )
            return ConnectorOutcome(
                NAME,
                "done",
                rows_affected=len(records),
                method="exported",
                datasets=(Dataset("vault_tokens", records, INFO.categories),),
                info=INFO,
            )
        if request.type == "erasure":
            tenants = subject_tenants(session, subject)
            if not tenants:
                return ConnectorOutcome(NAME, "not_applicable", detail="no tokens of the subject")
            unreadable = 0
            for tenant in tenants:
                report = erase_subject(
                    session, tenant=tenant, subject=subject, actor=f"dsar:{request.request_id}"
                )
                unreadable += report.tokens_unreadable
            return ConnectorOutcome(
                NAME,
                "done",
                rows_affected=unreadable,
                method="crypto-shredded",
                holds=(
                    LegalHold(
                        what="token rows without their values (answering 410 Gone)",
                        legal_basis="the shop's records keep their references; the values are"
                        " unreadable since the subject's keys are destroyed",
                        retention="until the token expires or is deleted by its service",
                    ),
                ),
                detail=f"{len(tenants)} tenant(s)",
            )
        return ConnectorOutcome(NAME, "not_applicable")


connector = VaultConnector()
