"""Wire shapes of /v1/consent."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class PurposeOut(BaseModel):
    key: str
    name: str
    description: str
    categories: list[str]
    notice_version: str


class PurposesOut(BaseModel):
    purposes: list[PurposeOut]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=320)
    purpose: str = Field(min_length=1, max_length=255)
    decision: Literal["grant", "withdraw"]
    notice_version: str = Field(min_length=1, max_length=50)


class DecisionOut(BaseModel):
    id: str
    subject: str
    purpose: str
    granted: bool
    decided_at: datetime
    source: str
    notice_version: str


class StateOut(BaseModel):
    purpose: str
    granted: bool
    changed_at: datetime | None
    notice_version: str | None
    source: str | None


class SubjectConsentOut(BaseModel):
    subject: str
    consents: list[StateOut]
    history: list[DecisionOut]


class PurposeSubjectOut(BaseModel):
    subject: str
    granted: bool
    changed_at: datetime | None
    source: str | None


class PurposeSubjectsOut(BaseModel):
    purpose: str
    granted: int
    withdrawn: int
    subjects: list[PurposeSubjectOut]


class CheckOut(BaseModel):
    subject: str
    purpose: str
    granted: bool
