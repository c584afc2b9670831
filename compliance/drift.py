"""Drift: a control whose status turns ``failing`` gets one audit entry and, when a webhook is
configured, one signed alert delivered by the ``compliance.deliver_alert`` job (retried with
backoff; every attempt is kept in the delivery log, ``compliance_alert_deliveries``).

Only a change from a known status counts: the first judgement of a control is its baseline, so
a fresh installation does not page anyone for every control it has not proved yet."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.config import ComplianceConfig
from compliance.controls import ControlLibrary
from compliance.models import AlertDelivery, ControlState
from compliance.posture import ControlPosture, posture
from core.audit.canonical import format_occurred_at
from core.audit.service import record_event
from core.jobs import enqueue

SIGNATURE_HEADER = "X-Rampart-Signature"
TIMESTAMP_HEADER = "X-Rampart-Timestamp"


def alert_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, ``<timestamp>.<body>``): the timestamp is signed
    too, so a receiver that rejects old timestamps cannot be fed a replayed alert."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def record_transitions(
    session: Session,
    library: ControlLibrary,
    now: datetime,
    control_ids: Iterable[str] | None = None,
    config: ComplianceConfig | None = None,
) -> list[ControlPosture]:
    """Store the status of ``control_ids`` (all when None); returns those that turned failing."""
    config = config or ComplianceConfig.from_env()
    wanted = set(control_ids) if control_ids is not None else None
    current = [
        p for p in posture(session, library, now) if wanted is None or p.control_id in wanted
    ]
    states = {
        row.control_id: row
        for row in session.scalars(
            select(ControlState).where(ControlState.control_id.in_([p.control_id for p in current]))
        )
    }
    turned: list[ControlPosture] = []
    for item in current:
        state = states.get(item.control_id)
        if state is None:
            session.add(
                ControlState(control_id=item.control_id, status=item.status, changed_at=now)
            )
            continue
        if state.status == item.status:
            continue
        if item.status == "failing":
            turned.append(item)
            _alert(session, item, state.status, now, config)
        state.status, state.changed_at = item.status, now
    session.flush()
    return turned


def _alert(
    session: Session,
    item: ControlPosture,
    previous: str,
    now: datetime,
    config: ComplianceConfig,
) -> None:
    reasons = [reason[:300] for reason in item.reasons[:10]]
    record_event(
        session,
        event_type="compliance.control_failing",
        outcome="failure",
        resource=f"compliance/controls/{item.control_id}",
        details={"control": item.control_id, "previous": previous, "reasons": reasons},
    )
    if config.webhook_url is None:
        return
    body = orjson.dumps(
        {
            "event": "compliance.control_failing",
            "control": item.control_id,
            "title": item.title,
            "previous": previous,
            "status": item.status,
            "reasons": reasons,
            "at": format_occurred_at(now),
        },
        option=orjson.OPT_SORT_KEYS,
    ).decode()
    from compliance import jobs  # noqa: F401 - declares compliance.deliver_alert (imports us)

    delivery = AlertDelivery(control_id=item.control_id, url=config.webhook_url, body=body)
    session.add(delivery)
    session.flush()
    enqueue(session, "compliance.deliver_alert", {"delivery_id": str(delivery.id)})
