"""Wire shapes of /v1/dsar (data-subject requests filed by shop services and officers)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from compliance.gdpr.connectors.base import RequestType


class FileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: RequestType
    subject: str = Field(min_length=1, max_length=320, description="The customer id.")
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    # Rectification only: field name -> corrected value.
    changes: dict[str, str] | None = Field(default=None, max_length=100)
    # Restriction and objection only: the purposes concerned (empty = all).
    purposes: list[str] = Field(default_factory=list, max_length=100)
    note: str | None = Field(default=None, max_length=4000)
    # A service filing for a customer logged into the shop may assert the identity is verified;
    # by default (and for requests received by letter or phone) the officer verifies it.
    identity_verified: bool = False


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=4000)


class ExtendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    months: Literal[1, 2]
    reason: str = Field(min_length=1, max_length=4000)


class RequestOut(BaseModel):
    id: str
    type: str
    subject: str
    email: str | None
    channel: str
    state: str
    purposes: list[str]
    # Rectification values and the note (which can hold the subject's answer to a 12(6)
    # request) are shown to officers only, the values only until fulfilment; services get null.
    changes: dict[str, str] | None
    note: str | None
    received_at: datetime
    due_at: datetime = Field(description="The deadline in force: the extended one if extended.")
    original_due_at: datetime
    extended: bool
    extension_reason: str | None
    days_left: int = Field(description="Whole days to the deadline; negative when overdue.")
    overdue: bool
    paused: bool
    completed_at: datetime | None
    rejection_reason: str | None
    package_sha256: str | None


class EventOut(BaseModel):
    at: datetime
    from_state: str | None
    to_state: str
    actor: str
    reason: str | None


class HoldOut(BaseModel):
    what: str
    legal_basis: str
    retention: str


class OutcomeOut(BaseModel):
    connector: str
    status: str
    rows: int
    method: str
    holds: list[HoldOut]
    attempts: int
    detail: str
    updated_at: datetime


class RequestDetailOut(BaseModel):
    request: RequestOut
    history: list[EventOut]
    outcomes: list[OutcomeOut]


class RequestsOut(BaseModel):
    requests: list[RequestOut]
    limit: int
    offset: int


class CertificateOut(BaseModel):
    """The three files of the signed certificate, base64 (the CLI writes them as they are)."""

    request_id: str
    certificate_json: str
    certificate_sig: str
    public_key_pem: str
    verify_command: str
