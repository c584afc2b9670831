"""Wire shapes of /v1/dsar/connectors and the manual tasks' results."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from compliance.gdpr.connectors.base import RequestType


class ConnectorIn(BaseModel):
    """A new connector: a webhook (``url``; ``secret`` or one is generated) or a manual task
    (``instructions``, ``assignee_email``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=63)
    kind: Literal["webhook", "manual"]
    types: list[RequestType] = Field(min_length=1, max_length=6)
    enabled: bool = True
    url: str | None = Field(default=None, max_length=2000)
    timeout_seconds: float = Field(default=10.0, ge=0.1, le=120)
    secret: str | None = Field(default=None, min_length=24, max_length=512, repr=False)
    instructions: str | None = Field(default=None, max_length=10_000)
    assignee_email: str | None = Field(default=None, max_length=320)


class ConnectorPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    types: list[RequestType] | None = Field(default=None, min_length=1, max_length=6)
    enabled: bool | None = None
    url: str | None = Field(default=None, max_length=2000)
    timeout_seconds: float | None = Field(default=None, ge=0.1, le=120)
    instructions: str | None = Field(default=None, max_length=10_000)
    assignee_email: str | None = Field(default=None, max_length=320)


class SecretIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: str | None = Field(default=None, min_length=24, max_length=512, repr=False)


class ConnectorOut(BaseModel):
    """A connector as shown: whether it has a secret, never the secret."""

    name: str
    kind: str
    types: list[str]
    enabled: bool
    url: str | None
    timeout_seconds: float
    has_secret: bool
    instructions: str | None
    assignee_email: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime


class ConnectorCreated(BaseModel):
    connector: ConnectorOut
    # The webhook's secret, shown this once (store it in the shop service's configuration).
    secret: str | None = None


class ConnectorsOut(BaseModel):
    connectors: list[ConnectorOut]


class SecretOut(BaseModel):
    name: str
    secret: str


class PingOut(BaseModel):
    name: str
    ok: bool
    status: str
    detail: str


class TaskResultIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["done", "not_applicable"]
    rows_affected: int = Field(default=0, ge=0)
    method: str = Field(default="", max_length=100)
    note: str = Field(default="", max_length=2000)


class TaskOut(BaseModel):
    request_id: str
    connector: str
    status: str
    rows_affected: int
    method: str
    note: str
    opened_at: datetime
    closed_at: datetime | None
    closed_by: str | None


class TasksOut(BaseModel):
    tasks: list[TaskOut]
