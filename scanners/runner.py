"""Running a scan: ``queued`` → ``running`` → ``complete`` or ``failed``.

The scan row is the truth another process watches: progress (pages done / total) is committed in
short transactions of its own while the engine runs, the findings are ingested and the scan
marked complete in one transaction at the end (a failure half-way leaves no half-ingested
findings). A cancel marks a queued or running scan failed; the running scan notices at its next
progress write and stops. A scan re-run after its worker died (the job's lease expired) starts
again from the beginning: engines are re-runnable and nothing was ingested before completion."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core.audit.service import record_event
from core.clock import utcnow
from core.database import unit_of_work
from core.errors import RampartError
from core.sensitive import mask_card_numbers
from core.settings import get_settings
from scanners import findings as findings_service
from scanners import targets as targets_service
from scanners.engines import get_engine
from scanners.engines.base import ENGINE_NAMES, Limits, Observation, Progress, ScanRequest, Scope
from scanners.exceptions import ScanNotFound, TargetInvalid, TransitionRefused
from scanners.models import Scan, ScanTarget

SCHEDULER_ACTOR = "system:scanners.schedule_due"
ProgressCallback = Callable[[int, int, str], None]
_PROGRESS_EVERY = 0.25  # seconds between progress writes (the last one is always written)


class _Cancelled(Exception):
    pass


def describe_scan(scan: Scan) -> dict[str, Any]:
    return {
        "id": str(scan.id),
        "target_id": str(scan.target_id),
        "engine": scan.engine,
        "status": scan.status,
        "job_run_id": str(scan.job_run_id) if scan.job_run_id else None,
        "triggered_by": scan.triggered_by,
        "pages_done": scan.pages_done,
        "pages_total": scan.pages_total,
        "findings": scan.findings,
        "error": scan.error,
        "created_at": scan.created_at.isoformat(),
        "started_at": scan.started_at.isoformat() if scan.started_at else None,
        "finished_at": scan.finished_at.isoformat() if scan.finished_at else None,
    }


def get_scan(session: Session, scan_id: UUID | str) -> Scan:
    try:
        key = scan_id if isinstance(scan_id, UUID) else UUID(str(scan_id))
    except ValueError:
        raise ScanNotFound("no scan with that id") from None
    scan = session.get(Scan, key)
    if scan is None:
        raise ScanNotFound("no scan with that id")
    return scan


def client_bearer(session: Session, target: ScanTarget) -> dict[str, str]:
    """``Authorization: Bearer <token>`` minted in-process for the target's Rampart client, as
    the token endpoint's client_credentials grant would (scope: all the client's scopes,
    audience: its default), audited like one; the token lives only in the scan's request."""
    if target.auth_client is None:
        return {}
    from iam.oauth2.tokens import access_token_audience, mint_access_token

    client = targets_service.auth_client(session, target.auth_client)
    scope = " ".join(sorted(set(client.scopes)))
    audience = access_token_audience(list(client.audiences), scope, None)
    token, issued, _ttl = mint_access_token(
        session, client_id=client.client_id, subject=None, scope=scope, audience=audience
    )
    record_event(
        session,
        event_type="oauth2.token.issued",
        actor=f"client:{client.client_id}",
        resource=f"oauth2_client:{client.client_id}",
        details={
            "client_id": client.client_id,
            "grant_type": "client_credentials",
            "jti": issued.jti,
            "scope": scope,
            "for": f"scan_target:{target.name}",
        },
    )
    return {"Authorization": f"Bearer {token}"}


def build_request(session: Session, target: ScanTarget) -> ScanRequest:
    settings = get_settings()
    headers = targets_service.headers_of(session, target)
    headers.update(client_bearer(session, target))
    return ScanRequest(
        target=target.name,
        scope=Scope(
            target.url, tuple(json.loads(target.include)), tuple(json.loads(target.exclude))
        ),
        limits=Limits(
            max_pages=settings.scan_max_pages,
            max_depth=settings.scan_max_depth,
            max_seconds=settings.scan_max_seconds,
            request_timeout=settings.scan_request_timeout_seconds,
            max_response_bytes=settings.scan_max_response_bytes,
        ),
        allow_private=settings.scan_allow_private_networks,
        headers=headers,
    )


def create_scan(session: Session, target_name: str, engine: str, *, actor: str) -> Scan:
    """A queued scan of a registered target (only registered targets can be scanned)."""
    if engine not in ENGINE_NAMES:
        raise TargetInvalid(f"unknown engine {engine!r}; engines: {', '.join(ENGINE_NAMES)}")
    target = targets_service.find(session, target_name)
    scan = Scan(target_id=target.id, engine=engine, status="queued", triggered_by=actor)
    session.add(scan)
    session.flush()
    record_event(
        session,
        event_type="scanners.scan_queued",
        resource=f"scan:{scan.id}",
        details={"target": target.name, "engine": engine},
        actor=actor,
    )
    return scan


def start_scan(session: Session, target_name: str, engine: str, *, actor: str) -> Scan:
    """A queued scan and its ``scanners.scan`` job run, both committed with the caller."""
    from core.jobs import enqueue

    scan = create_scan(session, target_name, engine, actor=actor)
    scan.job_run_id = enqueue(session, "scanners.scan", {"scan_id": str(scan.id)})
    session.flush()
    return scan


def start_scheduled_scans(session: Session, now: datetime | None = None) -> list[Scan]:
    """Start one scan for each target whose schedule is due, in the caller's transaction.

    Each start is guarded by a compare-and-set on the target's ``last_scheduled_at``
    (:func:`scanners.targets.claim_slot`): a second worker that saw the same target due finds
    the slot taken and starts nothing. A target whose previous scan is still queued or running
    has its slot consumed without a second, overlapping scan (audited as skipped)."""
    moment = (now or utcnow()).replace(microsecond=0)
    started: list[Scan] = []
    rows = session.scalars(
        select(ScanTarget).where(ScanTarget.schedule.is_not(None)).order_by(ScanTarget.name)
    ).all()
    for target in rows:
        slot = targets_service.due_slot(target, moment)
        if slot is None or not targets_service.claim_slot(session, target, slot):
            continue
        busy = session.scalars(
            select(Scan.id).where(
                Scan.target_id == target.id,
                Scan.engine == target.engine,
                Scan.status.in_(("queued", "running")),
            )
        ).first()
        if busy is not None:
            record_event(
                session,
                event_type="scanners.scheduled_scan_skipped",
                resource=f"scan_target:{target.name}",
                details={
                    "slot": slot.isoformat(),
                    "engine": target.engine,
                    "reason": f"scan {busy} is still queued or running",
                },
                actor=SCHEDULER_ACTOR,
            )
            continue
        scan = start_scan(session, target.name, target.engine, actor=SCHEDULER_ACTOR)
        record_event(
            session,
            event_type="scanners.scan_scheduled",
            resource=f"scan:{scan.id}",
            details={
                "target": target.name,
                "engine": target.engine,
                "schedule": target.schedule,
                "slot": slot.isoformat(),
            },
            actor=SCHEDULER_ACTOR,
        )
        started.append(scan)
    return started


def cancel_scan(session: Session, scan_id: UUID | str, *, actor: str) -> Scan:
    scan = get_scan(session, scan_id)
    if scan.status not in ("queued", "running"):
        raise TransitionRefused(f"a {scan.status} scan cannot be cancelled")
    scan.status, scan.error, scan.finished_at = "failed", f"cancelled by {actor}", utcnow()
    session.flush()
    record_event(session, event_type="scanners.scan_cancelled", resource=f"scan:{scan.id}",
                 details={"engine": scan.engine}, actor=actor)  # fmt: skip
    return scan


def execute_scan(
    scan_id: UUID,
    *,
    factory: sessionmaker[Session] | None = None,
    on_progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Run a queued (or restarted) scan to its end; returns the scan as :func:`describe_scan`.
    A scan that cannot run ends ``failed`` with a one-line error; a timeout (a BaseException
    raised by the jobs runner) is recorded as a failure and re-raised."""
    with unit_of_work(factory) as session:
        scan = get_scan(session, scan_id)
        if scan.status not in ("queued", "running"):
            return describe_scan(scan)  # cancelled (failed) or done before this attempt
        target = session.get(ScanTarget, scan.target_id)
        if target is None:
            raise ScanNotFound("the scan's target was removed")
        scan.status, scan.started_at, scan.error = "running", utcnow(), None
        scan.pages_done = scan.pages_total = 0
        engine_name = scan.engine
        try:
            request = build_request(session, target)
        except RampartError as exc:
            scan.status, scan.error, scan.finished_at = "failed", exc.detail, utcnow()
            return describe_scan(scan)
    observations: list[Observation] = []
    last_write = 0.0
    done = total = 0
    try:
        engine = get_engine(engine_name)
        for event in engine.scan(request):
            if not isinstance(event, Progress):
                observations.append(event)
                continue
            done, total = event.done, max(event.total, event.done)
            if on_progress is not None:
                on_progress(done, total, event.message)
            if time.monotonic() - last_write >= _PROGRESS_EVERY:
                _write_progress(factory, scan_id, done, total)
                last_write = time.monotonic()
        _write_progress(factory, scan_id, done, total)
    except _Cancelled:
        with unit_of_work(factory) as session:
            return describe_scan(get_scan(session, scan_id))
    except RampartError as exc:
        return _fail(factory, scan_id, exc.detail or exc.title)
    except Exception as exc:  # an engine bug: the scan fails, the message is masked
        return _fail(factory, scan_id, f"{type(exc).__name__}: {exc}")
    except BaseException as exc:  # the job's timeout: record it, let the runner see it
        _fail(factory, scan_id, f"{type(exc).__name__}: the scan ran out of time")
        raise
    with unit_of_work(factory) as session:
        scan = get_scan(session, scan_id)
        if scan.status != "running":
            return describe_scan(scan)  # cancelled while the last page was read
        result = findings_service.ingest(session, scan, observations)
        scan.status, scan.finished_at = "complete", utcnow()
        record_event(
            session,
            event_type="scanners.scan_completed",
            resource=f"scan:{scan.id}",
            details={
                "engine": scan.engine,
                "pages": scan.pages_done,
                "findings": result.seen,
                "new": result.new,
                "reopened": result.reopened,
                "fixed": result.fixed,
            },
        )
        return describe_scan(scan)


def _write_progress(
    factory: sessionmaker[Session] | None, scan_id: UUID, done: int, total: int
) -> None:
    with unit_of_work(factory) as session:
        changed = session.execute(
            update(Scan)
            .where(Scan.id == scan_id, Scan.status == "running")
            .values(pages_done=done, pages_total=total)
        )
        if getattr(changed, "rowcount", 1) == 0:
            raise _Cancelled


def _fail(factory: sessionmaker[Session] | None, scan_id: UUID, error: str) -> dict[str, Any]:
    with unit_of_work(factory) as session:
        scan = get_scan(session, scan_id)
        if scan.status == "running":
            scan.status, scan.finished_at = "failed", utcnow()
            scan.error = mask_card_numbers(error)[:2000]
            record_event(
                session,
                event_type="scanners.scan_failed",
                outcome="failure",
                resource=f"scan:{scan.id}",
                details={"engine": scan.engine, "error": scan.error},
            )
        return describe_scan(scan)
