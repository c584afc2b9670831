"""Which checks are due: a check whose newest evidence would go stale before the next tick of
``compliance.run_due`` (plus a margin) runs now, so every control keeps fresh evidence at its
frequency; a check that never ran is due at once (catch-up after a restart or a new check)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from compliance.checks import load_all
from compliance.checks.base import RegisteredCheck
from compliance.controls import ControlLibrary, Frequency
from compliance.posture import checks_of, latest_evidence

TICK = timedelta(minutes=15)
"""How often ``compliance.run_due`` looks; evidence is refreshed this long (and an hour) early."""
LEAD = TICK + timedelta(hours=1)


def cadence_of_checks(library: ControlLibrary) -> dict[str, Frequency]:
    """Each check's shortest frequency over the controls it serves."""
    cadences: dict[str, Frequency] = {}
    for framework, control in library.controls():
        for check_id in checks_of(framework, control):
            known = cadences.get(check_id)
            if known is None or _shorter(control.cadence, known):
                cadences[check_id] = control.cadence
    return cadences


def _shorter(one: Frequency, other: Frequency) -> bool:
    anchor = datetime(2000, 1, 31)  # any fixed moment: month lengths compare the same way
    return one.expires(anchor) < other.expires(anchor)


def due_checks(session: Session, library: ControlLibrary, now: datetime) -> list[RegisteredCheck]:
    registry = load_all()
    cadences = {k: v for k, v in cadence_of_checks(library).items() if k in registry}
    newest = latest_evidence(session, cadences)
    due = [
        registry[check_id]
        for check_id, cadence in sorted(cadences.items())
        if check_id not in newest or cadence.expires(newest[check_id].finished_at) <= now + LEAD
    ]
    return due
