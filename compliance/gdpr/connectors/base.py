"""What a connector is and what it answers: the contract between the request workflow
(compliance.gdpr.service) and every system it reaches (Rampart's own data, shop services'
webhooks, manual tasks). The workflow persists each connector's outcome, so a request resumed
after a crash calls only the connectors that have not answered yet: ``fulfil`` must therefore be
idempotent (erasing twice erases nothing more and still answers ``done``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable
from uuid import UUID

from sqlalchemy.orm import Session

# The six rights: Art. 15 access, 16 rectification, 17 erasure, 18 restriction, 20 portability,
# 21 objection.
RequestType = Literal[
    "access", "rectification", "erasure", "restriction", "portability", "objection"
]
REQUEST_TYPES: tuple[RequestType, ...] = (
    "access",
    "rectification",
    "erasure",
    "restriction",
    "portability",
    "objection",
)

# done: the system did what was asked; not_applicable: it holds nothing of the subject for this
# right; pending: it has accepted but not finished (a manual task, an asynchronous webhook), so
# the workflow asks again later; failed: it could not (retried by the workflow, then reported).
OutcomeStatus = Literal["done", "not_applicable", "pending", "failed"]


@dataclass(frozen=True, slots=True)
class SubjectRef:
    """Whom a request is about: ``subject`` is the customer id, the same ``subject`` the vault's
    tokens carry (the IdP account's id for a customer with an account)."""

    subject: str
    email: str | None = None


@dataclass(frozen=True, slots=True)
class ConnectorRequest:
    request_id: UUID
    type: RequestType
    subject: SubjectRef
    # Rectification: field name -> corrected value, as the subject asked.
    changes: Mapping[str, str] = field(default_factory=dict)
    # Restriction and objection: the purposes concerned (fideslang data-use keys); empty = all.
    purposes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Dataset:
    """One table of a subject's records in one system, for access (Art. 15) and portability
    (Art. 20): written to the package as JSON and CSV."""

    name: str
    records: tuple[Mapping[str, Any], ...]
    categories: tuple[str, ...] = ()  # fideslang data categories, e.g. "user.contact.email"


@dataclass(frozen=True, slots=True)
class LegalHold:
    """Data kept despite an erasure request, and why (Art. 17(3)): listed in the answer."""

    what: str
    legal_basis: str  # e.g. "PCI DSS v4.0.1 10.5.1: audit trail retained 12 months"
    retention: str  # ISO 8601 duration or a plain phrase


@dataclass(frozen=True, slots=True)
class ProcessingInfo:
    """The Art. 15(1) information a system contributes to an access answer."""

    purposes: tuple[str, ...]
    categories: tuple[str, ...]
    recipients: tuple[str, ...]
    retention: str
    source: str


@dataclass(frozen=True, slots=True)
class ConnectorOutcome:
    connector: str
    status: OutcomeStatus
    rows_affected: int = 0
    # How the system acted: exported, crypto-shredded, deleted, anonymised, pseudonymised,
    # rectified, restricted, objection-recorded, manual-task-opened, ...
    method: str = ""
    datasets: tuple[Dataset, ...] = ()
    holds: tuple[LegalHold, ...] = ()
    info: ProcessingInfo | None = None
    # For people: why it failed or what is pending. Never personal data or secrets.
    detail: str = ""


@runtime_checkable
class Connector(Protocol):
    """A system holding personal data. ``name`` is stable (it keys the persisted outcomes)."""

    @property
    def name(self) -> str: ...

    def supports(self, request_type: RequestType) -> bool: ...

    def fulfil(self, session: Session, request: ConnectorRequest) -> ConnectorOutcome:
        """Act on ``request`` for this system. Flushes, never commits; idempotent."""
        ...
