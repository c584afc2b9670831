"""The wire format of the decision API and the policy store API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

MAX_BATCH = 1000
_NAME = Field(min_length=1, max_length=255)


class CheckContext(BaseModel):
    """What the asking service knows about the end-user's request (from the verified token)."""

    model_config = ConfigDict(extra="forbid")

    amr: list[str] = Field(default_factory=list, max_length=20)
    auth_time: datetime | None = None
    ip: str | None = Field(default=None, max_length=64)
    client_id: str | None = Field(default=None, max_length=255)


class CheckIn(BaseModel):
    """May ``subject`` (with ``roles``) do ``action`` on ``object`` in ``domain``, now?"""

    model_config = ConfigDict(extra="forbid")

    subject: str = _NAME
    roles: list[str] = Field(
        default_factory=list, max_length=50, description="Role names, checked as role:<name>."
    )
    domain: str = Field(default="rampart", min_length=1, max_length=255)
    object: str = Field(min_length=1, max_length=1000)
    action: str = _NAME
    context: CheckContext = Field(default_factory=CheckContext)


class CheckOut(BaseModel):
    allowed: bool
    policy_version: int
    rule: str | None = Field(
        default=None, description="The deciding rule; only for callers allowed authz explain."
    )


class CheckBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checks: list[CheckIn] = Field(min_length=1)


class CheckBatchOut(BaseModel):
    policy_version: int
    results: list[CheckOut]


class PolicyOut(BaseModel):
    version: int
    lines: list[str]


class PolicyApplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lines: list[str] = Field(max_length=200_000)
    reason: str = Field(min_length=1, max_length=1000)


class PolicyRollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    reason: str = Field(min_length=1, max_length=1000)


class PolicyVersionOut(BaseModel):
    version: int
    created_at: datetime
    actor: str
    reason: str
    source: str
    rollback_of: int | None
    lines_added: int
    lines_removed: int
    line_count: int
    digest: str


class PolicyChangeOut(BaseModel):
    changed: bool
    version: int
    lines_added: int
    lines_removed: int
