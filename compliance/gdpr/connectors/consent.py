"""The consent-records connector. Access/portability: the subject's full decision history.
Objection/restriction: withdraw the named purposes (all when none is named), source
``dsar:<request_id>``. Erasure: the decision rows are KEPT and a LegalHold says why — Art. 7(1)
requires the controller to demonstrate consent it relies on (and that a withdrawal was honoured),
which Art. 17(3)(e) (defence of legal claims) and 17(3)(b) allow; every purpose is withdrawn first,
so nothing further is processed on the subject's consent."""

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


class ConsentConnector:
    name = "consent"

    def supports(self, request_type: RequestType) -> bool:
        return request_type != "rectification"

    def fulfil(self, session: Session, request: ConnectorRequest) -> ConnectorOutcome:
        from compliance.gdpr import consent

        subject = request.subject.subject
        history = consent.history_of(session, subject)
        if request.type in ("access", "portability"):
            if not history:
                return ConnectorOutcome(self.name, "not_applicable")
            records = tuple(
                {
                    "purpose": r.purpose,
                    "decision": "granted" if r.granted else "withdrawn",
                    "decided_at": r.decided_at.isoformat(),
                    "source": r.source,
                    "notice_version": r.notice_version,
                }
                for r in history
            )
            purposes = tuple(sorted({r.purpose for r in history}))
            info = ProcessingInfo(
                purposes=purposes,
                categories=(),
                recipients=(),
                retention="as long as consent is relied on, then as proof (Art. 7(1))",
                source="the data subject",
            )
            return ConnectorOutcome(
                self.name,
                "done",
                rows_affected=len(records),
                method="exported",
                datasets=(Dataset("consent_records", records),),
                info=info,
            )
        # objection, restriction, erasure: withdraw what is still granted (idempotent).
        source = f"dsar:{request.request_id}"
        wanted = set(request.purposes) if request.type != "erasure" else set()
        versions = {p.key: p.notice_version for p in consent.consent_purposes(session)}
        withdrawn = 0
        for state in consent.consents_of(session, subject):
            if not state.granted or (wanted and state.purpose not in wanted):
                continue
            consent.withdraw_consent(
                session,
                subject=subject,
                purpose=state.purpose,
                source=source,
                notice_version=versions[state.purpose],
                actor=f"dsar:{request.request_id}",
            )
            withdrawn += 1
        holds: tuple[LegalHold, ...] = ()
        if request.type == "erasure" and history:
            holds = (
                LegalHold(
                    what="consent decisions (purpose, decision, time, source, notice version)",
                    legal_basis=(
                        "GDPR Art. 7(1) proof of consent; Art. 17(3)(e) defence of legal claims"
                    ),
                    retention="P3Y",
                ),
            )
        if not history:
            return ConnectorOutcome(self.name, "not_applicable")
        method = "consent-withdrawn" if request.type != "erasure" else "withdrawn-and-retained"
        return ConnectorOutcome(
            self.name, "done", rows_affected=withdrawn, method=method, holds=holds
        )


connector = ConsentConnector()
