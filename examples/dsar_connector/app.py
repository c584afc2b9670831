"""The CRM's FastAPI app: ``POST /rampart/dsar`` answers Rampart through ``rampart_sdk.dsar``;
the service writes one handler per right and the SDK checks the signature.

``GET /stats`` shows counts only (no personal data); ``GET /healthz`` says it is up."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import FastAPI

from examples.dsar_connector.crm import RECTIFIABLE, Crm
from rampart_sdk.dsar import Answer, Dataset, DsarRequest, Hold, Info, dsar_router

INFO = Info(
    purposes=("customer service", "marketing (with consent)"),
    categories=("user.name", "user.contact.email", "user.contact.phone_number"),
    recipients=("the shop's customer service team",),
    retention="while you are a customer, then 2 years; invoices 10 years",
    source="your account and your contacts with customer service",
)
INVOICE_HOLD = Hold(
    what="invoices (number, amount, billed name)",
    legal_basis="commercial and tax law: invoices are kept 10 years (Art. 17(3)(b) GDPR)",
    retention="P10Y",
)


class CrmHandlers:
    def __init__(self, crm: Crm) -> None:
        self.crm = crm

    def access(self, request: DsarRequest) -> Answer:
        with self.crm.lock:
            customer = self.crm.customers.get(request.subject)
            invoices = self.crm.invoices_of(request.subject)
            if customer is None and not invoices:
                return Answer("not_applicable", detail="no such customer")
            record = asdict(customer) if customer else None
        datasets = [Dataset("invoices", [asdict(i) for i in invoices], ("user.financial",))]
        if record is not None:
            notes = [{"note": n} for n in record.pop("notes")]
            datasets[:0] = [
                Dataset("customers", [record], INFO.categories),
                Dataset("notes", notes, ("user.content",)),
            ]
        rows = sum(len(d.records) for d in datasets)
        return Answer("done", rows_affected=rows, method="exported", datasets=datasets, info=INFO)

    def erasure(self, request: DsarRequest) -> Answer:
        with self.crm.lock:
            customer = self.crm.customers.pop(request.subject, None)
            kept = len(self.crm.invoices_of(request.subject))
        if customer is None:
            # Idempotent: erasing twice erases nothing more; the hold still stands.
            if kept:
                return Answer(
                    "done", method="deleted", holds=[INVOICE_HOLD], detail="erased before"
                )
            return Answer("not_applicable", detail="no such customer")
        return Answer(
            "done",
            rows_affected=1 + len(customer.notes),
            method="deleted",
            holds=[INVOICE_HOLD] if kept else [],
            detail=f"{kept} invoice(s) kept under the legal hold",
        )

    def rectification(self, request: DsarRequest) -> Answer:
        with self.crm.lock:
            customer = self.crm.customers.get(request.subject)
            if customer is None:
                return Answer("not_applicable", detail="no such customer")
            changed = [k for k in request.changes if k in RECTIFIABLE]
            for key in changed:
                setattr(customer, key, request.changes[key])
        if not changed:
            return Answer("not_applicable", detail="none of the fields is held here")
        return Answer("done", rows_affected=1, method="rectified", detail=", ".join(changed))

    def restriction(self, request: DsarRequest) -> Answer:
        with self.crm.lock:
            customer = self.crm.customers.get(request.subject)
            if customer is None:
                return Answer("not_applicable", detail="no such customer")
            customer.restricted = True
        return Answer("done", rows_affected=1, method="restricted")

    def objection(self, request: DsarRequest) -> Answer:
        with self.crm.lock:
            customer = self.crm.customers.get(request.subject)
            if customer is None:
                return Answer("not_applicable", detail="no such customer")
            customer.objections = sorted({*customer.objections, *(request.purposes or ("all",))})
            customer.marketing = False
        return Answer("done", rows_affected=1, method="objection-recorded")


def create_app(secret: str, crm: Crm | None = None) -> FastAPI:
    crm = crm if crm is not None else Crm()
    handlers = CrmHandlers(crm)
    app = FastAPI(title="Example CRM (Rampart DSAR connector)")
    app.state.crm = crm
    app.include_router(
        dsar_router(
            secret,
            access=handlers.access,
            portability=handlers.access,
            erasure=handlers.erasure,
            rectification=handlers.rectification,
            restriction=handlers.restriction,
            objection=handlers.objection,
        )
    )

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/stats")
    def stats() -> dict[str, int]:
        return crm.stats()

    return app
