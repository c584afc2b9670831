"""The evidence dashboard (``/dashboard``): server-rendered pages for compliance officers,
auditors and security staff, each guarded by the browser's login session through the same
policies as the API (core.authz.authorize_page), each shown "as of" any past day
(``?as_of=YYYY-MM-DD``, rebuilt from the evidence), every number a link to what is behind it.

An auditor sees only an active engagement's frameworks and period (compliance.dashboard.access):
``as_of`` is clamped into the period and evidence outside it is refused."""

# No `from __future__ import annotations`: FastAPI must see the Annotated guards as objects.

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy.orm import Session

from compliance.config import ComplianceConfig
from compliance.controls import ControlLibrary
from compliance.dashboard import views
from compliance.dashboard.access import Scope, scope_for
from compliance.dashboard.rendering import STATIC, render, trend_chart
from compliance.posture import STATUSES
from core.authz import Principal, authorize_page, permits
from core.clock import utcnow
from core.errors import NotFound
from core.http import DbSession
from core.kms.provider import get_key_provider
from core.strict_json import StrictJsonRoute

router = APIRouter(prefix="/dashboard", tags=["dashboard"], route_class=StrictJsonRoute)

PostureReader = Annotated[Principal, authorize_page("compliance", "read")]
ControlLister = Annotated[Principal, authorize_page("compliance", "list")]
EvidenceReader = Annotated[Principal, authorize_page("evidence", "read")]
FindingLister = Annotated[Principal, authorize_page("findings", "list")]
ReviewLister = Annotated[Principal, authorize_page("compliance/reviews", "list")]
LedgerLister = Annotated[Principal, authorize_page("audit", "list")]
LedgerVerifier = Annotated[Principal, authorize_page("audit", "verify")]
PolicyReader = Annotated[Principal, authorize_page("policies", "read")]
AsOf = Annotated[
    date | None,
    Query(description="Show the state as it stood at the end of this day (UTC), YYYY-MM-DD."),
]
OWNERS = ("admin", "security_staff", "compliance_officer")


def _library() -> ControlLibrary:
    return ComplianceConfig.from_env().library()


def _common(request: Request, scope: Scope, as_of: date, requested: date | None) -> dict[str, Any]:
    """What every page shows: the as-of banner and date form, and the navigation."""
    return {
        "as_of": as_of,
        "as_of_param": as_of.isoformat(),
        "requested_as_of": requested,
        "clamped": requested is not None and requested != as_of,
        "scope": scope,
        "today": utcnow().date(),
        "path": request.url.path,
        "link": views.link,
    }


@router.get(
    "",
    response_class=HTMLResponse,
    operation_id="dashboard_overview",
    summary="Posture per framework and its weekly trend",
)
def overview_page(
    request: Request, session: DbSession, caller: PostureReader, as_of: AsOf = None
) -> Response:
    """Controls passing, failing, in error, manual due and waived per framework, as of a day,
    with a weekly trend over the 12 months before it; every number links to its controls."""
    scope = scope_for(session, caller, utcnow())
    day = scope.clamp(as_of)
    library = _library()
    frameworks = views.overview(
        session,
        library,
        day,
        frameworks=scope.frameworks,
        since=scope.first_day,
    )

    def href_of(point: date) -> str:
        return views.link("/dashboard", as_of=point.isoformat())

    charts = {fw.id: trend_chart(fw, href_of) for fw in frameworks}
    return render(
        session,
        request,
        "overview.html",
        title="Compliance posture",
        frameworks=frameworks,
        charts=charts,
        statuses=STATUSES,
        **_common(request, scope, day, as_of),
    )


@router.get(
    "/controls",
    response_class=HTMLResponse,
    operation_id="dashboard_controls",
    summary="Controls with filters",
)
def controls_page(
    request: Request,
    session: DbSession,
    caller: ControlLister,
    as_of: AsOf = None,
    framework: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    owner: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in id or title")] = None,
) -> Response:
    """The controls as of a day, filtered by framework, status, owner role and text; each links
    to its detail and to the newest evidence judged."""
    scope = scope_for(session, caller, utcnow())
    day = scope.clamp(as_of)
    library = _library()
    framework = framework or None
    if framework is not None and (
        framework not in library.frameworks or not scope.shows_framework(framework)
    ):
        raise NotFound(f"unknown framework {framework!r}")
    rows = views.controls(
        session,
        library,
        day,
        framework=framework,
        status=status or None,
        owner=owner or None,
        text=q,
        frameworks=scope.frameworks,
    )
    return render(
        session,
        request,
        "controls.html",
        title="Controls",
        rows=rows,
        frameworks=[fw for fw in library.frameworks.values() if scope.shows_framework(fw.id)],
        statuses=STATUSES,
        owners=OWNERS,
        filters={"framework": framework, "status": status, "owner": owner, "q": q},
        **_common(request, scope, day, as_of),
    )


@router.get(
    "/controls/{control_id}",
    response_class=HTMLResponse,
    operation_id="dashboard_control",
    summary="A control and its evidence history",
)
def control_page(
    control_id: str,
    request: Request,
    session: DbSession,
    caller: PostureReader,
    as_of: AsOf = None,
) -> Response:
    """A control as of a day: status, why, its waiver and its evidence history up to that day;
    today, the waiver form and revoke buttons for those the policies let grant or revoke."""
    return show_control(request, session, caller, control_id, as_of)


def show_control(
    request: Request,
    session: Session,
    caller: Principal,
    control_id: str,
    as_of: date | None,
    *,
    status: int = 200,
    error: str | None = None,
    form: Mapping[str, str] | None = None,
) -> Response:
    """The control page (also the answer of a refused waiver form, with ``error`` and what was
    typed in ``form``). The forms post to compliance.dashboard.waiver_forms; they are shown
    only for today, never on a past day's view, and only when the policies allow the POST."""
    scope = scope_for(session, caller, utcnow())
    day = scope.clamp(as_of)
    library = _library()
    try:
        detail = views.control_detail(session, library, control_id, day, since=scope.first_day)
    except KeyError:
        raise NotFound(f"unknown control {control_id!r}") from None
    if not scope.shows_framework(detail.framework.id):
        raise NotFound(f"unknown control {control_id!r}")
    common = _common(request, scope, day, as_of)
    present = day == common["today"]

    def may(act: str) -> bool:
        return permits(request, caller, "compliance/waivers", act)

    return render(
        session,
        request,
        "control.html",
        status=status,
        title=f"Control {control_id}",
        detail=detail,
        show_waivers=may("list"),
        can_waive=present and may("create"),
        can_revoke=present and may("revoke"),
        error=error,
        form=form or {},
        **common,
    )


@router.get(
    "/evidence/{evidence_id}",
    response_class=HTMLResponse,
    operation_id="dashboard_evidence",
    summary="One evidence record, its JSON, artefacts and verification",
)
def evidence_page(
    evidence_id: UUID,
    request: Request,
    session: DbSession,
    caller: EvidenceReader,
    as_of: AsOf = None,
) -> Response:
    """The record as signed, its digest and signature verified now, its artefacts and ledger
    entry; an evidence record from after ``as_of`` (or outside an auditor's period) is not
    shown."""
    scope = scope_for(session, caller, utcnow())
    day = scope.clamp(as_of)
    found = views.evidence(session, evidence_id, [get_key_provider().public_signing_key()])
    if (
        found is None
        or found.record.finished_at > views.end_of_day(day)
        or not scope.shows_moment(found.record.finished_at)
        or not any(scope.shows_framework(c.split(":")[0]) for c in found.document["controls"])
    ):
        raise NotFound("no such evidence record as of that day")
    return render(
        session,
        request,
        "evidence.html",
        title="Evidence record",
        item=found,
        **_common(request, scope, day, as_of),
    )


@router.get(
    "/findings",
    response_class=HTMLResponse,
    operation_id="dashboard_findings",
    summary="Scan findings with their SLA clocks",
)
def findings_page(
    request: Request,
    session: DbSession,
    caller: FindingLister,
    as_of: AsOf = None,
    include_closed: Annotated[bool, Query(description="Also fixed, accepted, dismissed")] = False,
) -> Response:
    """Findings known by a day, worst first: due by severity, days left, overdue flagged."""
    scope = scope_for(session, caller, utcnow())
    day = scope.clamp(as_of)
    rows = views.findings(session, day, since=scope.first_day, active_only=not include_closed)
    return render(
        session,
        request,
        "findings.html",
        title="Findings",
        rows=rows,
        include_closed=include_closed,
        **_common(request, scope, day, as_of),
    )


@router.get(
    "/requests",
    response_class=HTMLResponse,
    operation_id="dashboard_requests",
    summary="GDPR request queue with deadlines",
)
def requests_page(
    request: Request, session: DbSession, caller: EvidenceReader, as_of: AsOf = None
) -> Response:
    """Data-subject requests as of a day: state, due date (extended), days left, overdue. No
    subject or address: the same rows an evidence export carries."""
    scope = scope_for(session, caller, utcnow())
    day = scope.clamp(as_of)
    rows = views.requests(session, day, since=scope.first_day)
    return render(
        session,
        request,
        "requests.html",
        title="GDPR requests",
        rows=rows,
        **_common(request, scope, day, as_of),
    )


@router.get(
    "/reviews",
    response_class=HTMLResponse,
    operation_id="dashboard_reviews",
    summary="Access reviews",
)
def reviews_page(
    request: Request, session: DbSession, caller: ReviewLister, as_of: AsOf = None
) -> Response:
    """Access reviews opened by a day, signed off or open then, each sign-off's evidence."""
    scope = scope_for(session, caller, utcnow())
    day = scope.clamp(as_of)
    return render(
        session,
        request,
        "reviews.html",
        title="Access reviews",
        rows=views.reviews(session, day, since=scope.first_day),
        **_common(request, scope, day, as_of),
    )


@router.get(
    "/ledger",
    response_class=HTMLResponse,
    operation_id="dashboard_ledger",
    summary="Audit-ledger viewer with search",
)
def ledger_page(
    request: Request,
    session: DbSession,
    caller: LedgerLister,
    as_of: AsOf = None,
    event_type: Annotated[str | None, Query(max_length=100, description="Prefix")] = None,
    actor: Annotated[str | None, Query(max_length=255)] = None,
    resource: Annotated[str | None, Query(max_length=500, description="Prefix")] = None,
    since: Annotated[date | None, Query(description="From this day (UTC)")] = None,
    before: Annotated[int | None, Query(ge=1, description="Entries before this seq")] = None,
) -> Response:
    """Ledger entries up to a day, newest first, 50 a page, searched by event type, actor,
    resource and time; the chain's verification is one link away."""
    scope = scope_for(session, caller, utcnow())
    day = scope.clamp(as_of)
    # An auditor's period bounds the search from below too.
    first = max(d for d in (since, scope.first_day) if d) if since or scope.first_day else None
    lower = datetime.combine(first, time.min, tzinfo=UTC) if first else None
    found = views.ledger(
        session,
        day,
        event_type=event_type or None,
        actor=actor or None,
        resource=resource or None,
        since=lower,
        before=before,
    )
    filters = {
        "event_type": event_type,
        "actor": actor,
        "resource": resource,
        "since": since.isoformat() if since else None,
    }
    return render(
        session,
        request,
        "ledger.html",
        title="Audit ledger",
        page=found,
        filters=filters,
        **_common(request, scope, day, as_of),
    )


@router.get(
    "/ledger/verification",
    response_class=HTMLResponse,
    operation_id="dashboard_ledger_verification",
    summary="Live verification of the ledger chain and its signed checkpoints",
)
def ledger_verification_page(
    request: Request, session: DbSession, caller: LedgerVerifier, as_of: AsOf = None
) -> Response:
    """Walks the whole chain now (core.audit.verification.verify): every hash link, every
    signed checkpoint, the chain head; the first problem found is shown."""
    from core.audit.verification import verify

    scope = scope_for(session, caller, utcnow())
    day = scope.clamp(as_of)
    result = verify(session, [get_key_provider().public_signing_key()])
    return render(
        session,
        request,
        "verification.html",
        title="Ledger verification",
        result=result,
        checked_at=utcnow(),
        **_common(request, scope, day, as_of),
    )


@router.get(
    "/changes",
    response_class=HTMLResponse,
    operation_id="dashboard_changes",
    summary="Key and policy change history",
)
def changes_page(
    request: Request,
    session: DbSession,
    caller: PolicyReader,
    as_of: AsOf = None,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """Policy versions by a day and the ledger's key and policy events (KMS key rotations,
    data keys, token-signing keys, policy changes), newest first."""
    scope = scope_for(session, caller, utcnow())
    day = scope.clamp(as_of)
    events = views.ledger(
        session, day, prefixes=views.CHANGE_EVENTS, since=scope.since, before=before
    )
    return render(
        session,
        request,
        "changes.html",
        title="Key and policy changes",
        versions=views.policy_versions(session, day),
        page=events,
        **_common(request, scope, day, as_of),
    )


_ASSETS = {"dashboard.css": "text/css"}


@router.get(
    "/assets/{name}",
    response_class=FileResponse,
    summary="Dashboard: stylesheet",
    responses={200: {"content": {"text/css": {"schema": {"type": "string"}}}}},
)
def asset(name: str) -> Response:
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise NotFound("no such file")
    return FileResponse(
        STATIC / name, media_type=media_type, headers={"cache-control": "public, max-age=3600"}
    )
