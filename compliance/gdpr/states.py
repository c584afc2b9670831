"""The request state machine as data: which state may follow which. Art. 12(6) "information
requested" is modelled as its own state (the clock is paused while in it)."""

from __future__ import annotations

from typing import Final

from compliance.gdpr.exceptions import IllegalTransition

STATES: Final = (
    "received",
    "identity_pending",
    "verified",
    "information_requested",
    "in_progress",
    "awaiting_approval",
    "completed",
    "rejected",
    "withdrawn",
)
OPEN_STATES: Final = frozenset(STATES) - {"completed", "rejected", "withdrawn"}
_CLOSABLE: Final = ("rejected", "withdrawn")

TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "received": frozenset({"identity_pending", "verified", *_CLOSABLE}),
    "identity_pending": frozenset({"verified", "information_requested", *_CLOSABLE}),
    "verified": frozenset(
        {"in_progress", "awaiting_approval", "information_requested", *_CLOSABLE}
    ),
    "information_requested": frozenset({"identity_pending", "verified", *_CLOSABLE}),
    "awaiting_approval": frozenset({"in_progress", *_CLOSABLE}),
    "in_progress": frozenset({"completed", "rejected"}),
    "completed": frozenset(),
    "rejected": frozenset(),
    "withdrawn": frozenset(),
}

# Erasure and rectification wait for an officer's approval before any connector acts.
NEEDS_APPROVAL: Final = frozenset({"erasure", "rectification"})


def check_transition(from_state: str, to_state: str) -> None:
    if to_state not in TRANSITIONS.get(from_state, frozenset()):
        raise IllegalTransition(f"a {from_state} request cannot become {to_state}")
