"""``/v1/dashboard/engagements``: a compliance officer opens an auditor's engagement (frameworks,
audit period, expiry), lists and revokes them; the dashboard then shows that auditor only the
engagement's frameworks and period, and nothing after it expires."""

# No `from __future__ import annotations`: FastAPI must see the Annotated guards as objects.

from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from compliance.config import ComplianceConfig
from compliance.dashboard.engagements import (
    engagements,
    open_engagement,
    revoke_engagement,
)
from compliance.dashboard.models import AuditorEngagement
from core.authz import Principal, authorize
from core.clock import utcnow
from core.http import DbSession
from core.strict_json import StrictJsonRoute
from iam.accounts.service import require_user

router = APIRouter(
    prefix="/v1/dashboard/engagements", tags=["dashboard"], route_class=StrictJsonRoute
)

EngagementOpener = Annotated[Principal, authorize("compliance/engagements", "create")]
EngagementLister = Annotated[Principal, authorize("compliance/engagements", "list")]
EngagementRevoker = Annotated[Principal, authorize("compliance/engagements", "revoke")]


class EngagementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    auditor: str = Field(min_length=1, max_length=320, description="The auditor's email or id")
    frameworks: list[str] = Field(min_length=1, max_length=20)
    period_from: date
    period_to: date
    expires_at: AwareDatetime


class EngagementOut(BaseModel):
    id: UUID
    auditor: str
    frameworks: list[str]
    period_from: date
    period_to: date
    expires_at: AwareDatetime
    created_by: str
    created_at: AwareDatetime
    revoked_at: AwareDatetime | None
    active: bool


class EngagementsOut(BaseModel):
    engagements: list[EngagementOut]


def _out(row: AuditorEngagement) -> EngagementOut:
    now = utcnow()
    return EngagementOut(
        id=row.id,
        auditor=row.auditor,
        frameworks=row.framework_ids,
        period_from=row.period_from,
        period_to=row.period_to,
        expires_at=row.expires_at,
        created_by=row.created_by,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        active=row.revoked_at is None and row.expires_at > now,
    )


@router.post(
    "", status_code=201, response_model=EngagementOut, operation_id="open_auditor_engagement"
)
def create_engagement(
    body: EngagementIn, session: DbSession, caller: EngagementOpener
) -> EngagementOut:
    """Let an auditor account see ``frameworks`` over the period until ``expires_at``."""
    user = require_user(session, body.auditor)
    row = open_engagement(
        session,
        ComplianceConfig.from_env().library(),
        auditor=str(user.id),
        frameworks=body.frameworks,
        period_from=body.period_from,
        period_to=body.period_to,
        expires_at=body.expires_at,
        actor=caller.name,
    )
    return _out(row)


@router.get("", response_model=EngagementsOut, operation_id="list_auditor_engagements")
def list_engagements(session: DbSession, caller: EngagementLister) -> EngagementsOut:
    """Every engagement, newest first."""
    return EngagementsOut(engagements=[_out(row) for row in engagements(session)])


@router.delete(
    "/{engagement_id}", response_model=EngagementOut, operation_id="revoke_auditor_engagement"
)
def delete_engagement(
    engagement_id: UUID, session: DbSession, caller: EngagementRevoker
) -> EngagementOut:
    """End an engagement now: the auditor sees nothing more."""
    return _out(revoke_engagement(session, engagement_id, actor=caller.name))
