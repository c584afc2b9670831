"""/v1/consent: purposes, decisions recorded on a customer's behalf, per-subject and per-purpose
views, and the lean check services call before personalising."""

# No `from __future__ import annotations`: FastAPI must see the Annotated guards as objects.

from typing import Annotated

from fastapi import APIRouter, Query

from compliance.gdpr import consent
from compliance.gdpr.consent_models import ConsentRecord
from compliance.gdpr.consent_schemas import (
    CheckOut,
    DecisionIn,
    DecisionOut,
    PurposeOut,
    PurposesOut,
    PurposeSubjectOut,
    PurposeSubjectsOut,
    StateOut,
    SubjectConsentOut,
)
from core.authz import Principal, authorize
from core.http import DbSession
from core.strict_json import StrictJsonRoute

router = APIRouter(prefix="/v1/consent", tags=["consent"], route_class=StrictJsonRoute)

PurposeLister = Annotated[Principal, authorize("consent/purposes", "list")]
Recorder = Annotated[Principal, authorize("consent", "record")]
Reader = Annotated[Principal, authorize("consent", "read")]
Checker = Annotated[Principal, authorize("consent", "check")]


def _decision(r: ConsentRecord) -> DecisionOut:
    return DecisionOut(
        id=str(r.id),
        subject=r.subject,
        purpose=r.purpose,
        granted=r.granted,
        decided_at=r.decided_at,
        source=r.source,
        notice_version=r.notice_version,
    )


@router.get("/purposes", response_model=PurposesOut, operation_id="list_consent_purposes")
def list_purposes(session: DbSession, caller: PurposeLister) -> PurposesOut:
    """The purposes consent is asked for, with the notice version in force."""
    return PurposesOut(
        purposes=[
            PurposeOut(
                key=p.key,
                name=p.name,
                description=p.description,
                categories=list(p.categories),
                notice_version=p.notice_version,
            )
            for p in consent.consent_purposes(session)
        ]
    )


@router.post(
    "/decisions", response_model=DecisionOut, status_code=201, operation_id="record_consent"
)
def record_decision(body: DecisionIn, session: DbSession, caller: Recorder) -> DecisionOut:
    """Grant or withdraw on a customer's behalf; the source is ``api:<client>``."""
    source = f"api:{caller.client_id or caller.subject}"
    actor = f"client:{caller.client_id}" if caller.client_id else f"user:{caller.subject}"
    decide = consent.grant_consent if body.decision == "grant" else consent.withdraw_consent
    record = decide(
        session,
        subject=body.subject,
        purpose=body.purpose,
        source=source,
        notice_version=body.notice_version,
        actor=actor,
    )
    return _decision(record)


@router.get(
    "/subjects/{subject}", response_model=SubjectConsentOut, operation_id="read_subject_consent"
)
def read_subject(subject: str, session: DbSession, caller: Reader) -> SubjectConsentOut:
    """A subject's current consent per purpose and its full decision history."""
    return SubjectConsentOut(
        subject=subject,
        consents=[
            StateOut(
                purpose=s.purpose,
                granted=s.granted,
                changed_at=s.changed_at,
                notice_version=s.notice_version,
                source=s.source,
            )
            for s in consent.consents_of(session, subject)
        ],
        history=[_decision(r) for r in consent.history_of(session, subject)],
    )


@router.get(
    "/purposes/{purpose}/subjects",
    response_model=PurposeSubjectsOut,
    operation_id="list_purpose_subjects",
)
def list_purpose_subjects(
    purpose: str,
    session: DbSession,
    caller: Reader,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> PurposeSubjectsOut:
    """Counts and a page of the subjects who decided on ``purpose``."""
    granted, withdrawn, page = consent.subjects_of_purpose(
        session, purpose, limit=limit, offset=offset
    )
    return PurposeSubjectsOut(
        purpose=purpose,
        granted=granted,
        withdrawn=withdrawn,
        subjects=[
            PurposeSubjectOut(
                subject=s, granted=st.granted, changed_at=st.changed_at, source=st.source
            )
            for s, st in page
        ],
    )


@router.get("/check", response_model=CheckOut, operation_id="check_consent")
def check(
    session: DbSession,
    caller: Checker,
    subject: Annotated[str, Query(min_length=1, max_length=320)],
    purpose: Annotated[str, Query(min_length=1, max_length=255)],
) -> CheckOut:
    """Whether ``subject`` currently consents to ``purpose`` (never decided: false)."""
    return CheckOut(
        subject=subject, purpose=purpose, granted=consent.has_consent(session, subject, purpose)
    )
