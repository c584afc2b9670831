"""Remediations of failing controls: proposed after a run, approved or rejected by an officer,
executed once by the ``compliance.remediate`` job, audited with their before/after state.

A control's ``remediation`` names an action (``compliance/remediation_actions.py``) and a mode:
``auto`` queues the job at once, ``approval`` leaves it ``pending``. Only an action with work to
do is proposed, one open remediation per action (a unique key, so replicas proposing at once
create one). Execution claims the row with a compare-and-set (``queued``/``approved`` →
``running``), then reads the state, applies and reads it again in one transaction: a failure
rolls all of it back and is recorded as ``failed`` with its reason, in a transaction of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from compliance.controls import ControlLibrary
from compliance.exceptions import RemediationFailed, RemediationInvalid, RemediationNotPending
from compliance.models import RemediationRun
from compliance.posture import posture
from compliance.remediation_actions import ACTIONS
from core.audit.service import record_event
from core.clock import utcnow
from core.database import unit_of_work
from core.errors import NotFound, RampartError
from core.jobs import enqueue
from core.settings import Settings

REMEDIATE_JOB = "compliance.remediate"
OPEN_STATUSES = ("pending", "queued", "approved", "running")


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _audit(session: Session, row: RemediationRun, event: str, **details: Any) -> None:
    record_event(
        session,
        event_type=f"compliance.remediation.{event}",
        outcome="failure" if event == "failed" else "success",
        resource=f"compliance/remediations/{row.id}",
        details={
            "remediation_id": str(row.id),
            "action": row.action,
            "controls": orjson.loads(row.control_ids),
            **details,
        },
    )


def _queue(session: Session, row: RemediationRun) -> None:
    from compliance import jobs  # noqa: F401 - declares compliance.remediate (imports us)

    row.job_run_id = enqueue(
        session,
        REMEDIATE_JOB,
        {"remediation_id": str(row.id)},
        idempotency_key=f"remediation:{row.id}",
    )


def propose_remediations(
    session: Session,
    library: ControlLibrary,
    settings: Settings,
    now: datetime,
    control_ids: Iterable[str] | None = None,
) -> list[RemediationRun]:
    """Open a remediation for each action named by a failing control of ``control_ids`` (all
    when None) that has work to do and none open yet; ``auto`` ones are queued."""
    wanted = set(control_ids) if control_ids is not None else None
    by_action: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {}
    for item in posture(session, library, now):
        if item.status != "failing" or (wanted is not None and item.control_id not in wanted):
            continue
        _, control = library.control(item.control_id)
        if control.remediation is None or control.remediation.action not in ACTIONS:
            continue
        entry = (item.control_id, control.remediation.mode, item.reasons)
        by_action.setdefault(control.remediation.action, []).append(entry)
    if not by_action:
        return []
    already = set(
        session.scalars(
            select(RemediationRun.open_key).where(RemediationRun.open_key.in_(list(by_action)))
        )
    )
    opened: list[RemediationRun] = []
    for action_id, asking in sorted(by_action.items()):
        action = ACTIONS[action_id]
        if action_id in already:
            continue
        state = action.state(session, settings, now)
        if not action.needed(state):
            continue
        # The strictest mode wins when controls sharing an action disagree.
        mode = "auto" if all(m == "auto" for _, m, _ in asking) else "approval"
        row = RemediationRun(
            action=action_id,
            control_ids=_json(sorted(c for c, _, _ in asking)),
            mode=mode,
            status="queued" if mode == "auto" else "pending",
            open_key=action_id,
            reasons=_json(sorted({r[:300] for _, _, rs in asking for r in rs})[:10]),
            proposed_state=_json(state),
            created_at=now,
        )
        try:
            with session.begin_nested():  # another replica may have opened it meanwhile
                session.add(row)
                session.flush()
        except IntegrityError:
            continue
        _audit(session, row, "proposed", mode=mode, state=state)
        if mode == "auto":
            _queue(session, row)
        opened.append(row)
    session.flush()
    return opened


def _get(session: Session, remediation_id: UUID) -> RemediationRun:
    row = session.get(RemediationRun, remediation_id)
    if row is None:
        raise NotFound(f"no remediation {remediation_id}")
    return row


def _decide(
    session: Session, remediation_id: UUID, *, to: str, actor: str, note: str
) -> RemediationRun:
    row = _get(session, remediation_id)
    changes: dict[str, Any] = {
        "status": to,
        "decided_by": actor[:255],
        "decided_at": utcnow(),
        "decision_note": note.strip()[:2000],
    }
    if to == "rejected":
        changes["open_key"] = None
    claimed = session.execute(
        update(RemediationRun)
        .where(RemediationRun.id == remediation_id, RemediationRun.status == "pending")
        .values(**changes)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        raise RemediationNotPending(f"remediation {remediation_id} is {row.status}, not pending")
    session.refresh(row)
    _audit(session, row, to, decided_by=row.decided_by, note=row.decision_note[:500])
    return row


def approve_remediation(
    session: Session, remediation_id: UUID, *, actor: str, note: str = ""
) -> RemediationRun:
    """Approve a pending remediation and queue its run (once: a second approval is refused)."""
    row = _decide(session, remediation_id, to="approved", actor=actor, note=note)
    _queue(session, row)
    session.flush()
    return row


def reject_remediation(
    session: Session, remediation_id: UUID, *, actor: str, note: str
) -> RemediationRun:
    """Close a pending remediation without running it; the reason is required."""
    if not note.strip():
        raise RemediationInvalid("a rejection needs a reason")
    return _decide(session, remediation_id, to="rejected", actor=actor, note=note)


def list_remediations(
    session: Session, *, status: str | None = None, limit: int = 100
) -> Sequence[RemediationRun]:
    query = select(RemediationRun).order_by(RemediationRun.created_at.desc()).limit(limit)
    if status is not None:
        query = query.where(RemediationRun.status == status)
    return session.scalars(query).all()


def _safe_error(exc: BaseException) -> str:
    """Rampart's own errors carry a message meant for users; others only their class name."""
    if isinstance(exc, RampartError):
        return f"{type(exc).__name__}: {exc.detail}"[:500]
    return type(exc).__name__


def _state_or_empty(action: Any, session: Session, settings: Settings) -> dict[str, Any]:
    """The state for a failure's record, or ``{}`` when it cannot be read either (KMS down)."""
    if action is None:
        return {}
    try:
        with session.begin_nested():
            return dict(action.state(session, settings, utcnow()))
    except Exception:
        return {}


def execute_remediation(
    sessions: sessionmaker[Session], settings: Settings, remediation_id: UUID
) -> RemediationRun:
    """Run one approved or queued remediation, once; a failure rolls the action back, is recorded
    as ``failed`` and raised as :class:`RemediationFailed`."""
    with unit_of_work(sessions) as session:
        claimed = session.execute(
            update(RemediationRun)
            .where(
                RemediationRun.id == remediation_id,
                RemediationRun.status.in_(("queued", "approved")),
            )
            .values(status="running", started_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        row = _get(session, remediation_id)
        if getattr(claimed, "rowcount", 0) != 1:
            return row  # run (or being run) elsewhere, rejected, or never approved
    action = ACTIONS.get(row.action)
    try:
        with unit_of_work(sessions) as session:
            if action is None:
                raise RemediationFailed(f"unknown remediation action {row.action!r}")
            now = utcnow()
            before = action.state(session, settings, now)
            outcome = action.apply(session, settings, now) if action.needed(before) else {}
            after = action.state(session, settings, utcnow())
            row = _get(session, remediation_id)
            row.status, row.finished_at, row.open_key = "succeeded", utcnow(), None
            row.before_state, row.after_state = _json(before), _json(after)
            row.outcome = _json({"nothing_to_do": not action.needed(before), **outcome})
            _audit(session, row, "applied", before=before, after=after, outcome=outcome)
    except Exception as exc:
        error = _safe_error(exc)
        with unit_of_work(sessions) as session:
            row = _get(session, remediation_id)
            state = _state_or_empty(action, session, settings)
            row.status, row.finished_at, row.open_key = "failed", utcnow(), None
            row.before_state, row.error = _json(state), error
            _audit(session, row, "failed", before=state, error=error)
        raise RemediationFailed(f"remediation {remediation_id} failed: {error}") from exc
    return row
