"""No oracles (DESIGN.md): what a caller may compare. A fingerprint or a deterministic token lets
whoever can also compute one for a chosen value test guesses (a card's ~10^5 Luhn-valid middles
behind a first6_last4 token, an e-mail address). So both are computed per *comparison scope*
(the caller itself, or a scope a policy lets callers share), fingerprints are shown only with
their own permission, and comparable answers are counted per caller against a budget.

* scope: ``caller:<client:id|user:sub>`` by default; ``shared:<name>`` when the request names
  ``Rampart-Vault-Scope: <name>`` and the caller may ``join`` ``vault:<type>/scopes/<name>``.
* shown fingerprints: ``vault:<type>`` ``fingerprint``, and only of tokens of the caller's scope.
* budget: ``RAMPART_VAULT_CANDIDATE_BUDGET`` comparable answers (a fingerprint shown, a new
  deterministic token) per ``RAMPART_VAULT_CANDIDATE_WINDOW_SECONDS``; past it the request is
  refused whole (429) and a ``vault.candidate_budget_exceeded`` alert goes to the ledger.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.audit.service import EventFields
from core.settings import get_settings
from vault.exceptions import CandidateBudgetExceeded, ScopeInvalid
from vault.models import VaultCandidateBudget

SCOPE_HEADER = "Rampart-Vault-Scope"
SCOPE_NAME = re.compile(r"^[a-z][a-z0-9_.-]{1,62}$")
MAX_CALLER_CHARS = 240


@dataclass(frozen=True, slots=True)
class CallerView:
    """What one caller's answers may hold: its comparison scope, whether fingerprints are shown,
    and who is charged for comparable answers (None: trusted in-process code, not counted)."""

    scope: str
    show_fingerprints: bool
    budget_owner: str | None


def own_scope(caller: str) -> str:
    return f"caller:{caller}"[:MAX_CALLER_CHARS]


def shared_scope(name: str) -> str:
    if not SCOPE_NAME.match(name):
        raise ScopeInvalid("a scope name is 2-63 characters: a-z first, then a-z 0-9 _ . -")
    return f"shared:{name}"


def trusted_view(actor: str | None) -> CallerView:
    """In-process callers (the CLI's direct mode, jobs, the inbound proxy): their own scope,
    fingerprints shown to the code (never sent on), no budget."""
    return CallerView(own_scope(actor or "system"), show_fingerprints=True, budget_owner=None)


def charge(session: Session, tenant: str, view: CallerView, count: int, now: datetime) -> None:
    """Count ``count`` comparable answers for the caller, or refuse them all (nothing counted)
    when they would exceed its budget for the window. The row is locked while counting, so
    concurrent requests of one caller (on any replica) cannot both squeeze past the limit."""
    if view.budget_owner is None or count <= 0:
        return
    settings = get_settings()
    window = timedelta(seconds=settings.vault_candidate_window_seconds)
    caller = view.budget_owner[:MAX_CALLER_CHARS]
    _ensure_row(session, tenant, caller, now)
    row = session.scalars(
        select(VaultCandidateBudget)
        .where(VaultCandidateBudget.tenant == tenant, VaultCandidateBudget.caller == caller)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if row.window_started_at <= now - window:
        row.window_started_at, row.used = now, 0
    if row.used + count > settings.vault_candidate_budget:
        retry_after = max(1, int((row.window_started_at + window - now).total_seconds()))
        raise CandidateBudgetExceeded(
            f"at most {settings.vault_candidate_budget} comparable answers per "
            f"{settings.vault_candidate_window_seconds} s; this request asks {count} more",
            requested=count,
            used=row.used,
            budget=settings.vault_candidate_budget,
            retry_after_seconds=retry_after,
        )
    row.used += count
    session.flush()


def alert_event(
    error: CandidateBudgetExceeded, view: CallerView, token_type: str, operation: str, actor: str
) -> EventFields:
    """The ledger's alert of a refused run of candidates (never a value, token or fingerprint)."""
    return EventFields(
        event_type="vault.candidate_budget_exceeded",
        outcome="denied",
        resource=f"vault:{token_type}",
        details={
            "operation": operation,
            "type": token_type,
            "scope": view.scope,
            "requested": error.extensions["requested"],
            "used": error.extensions["used"],
            "budget": error.extensions["budget"],
            "window_seconds": get_settings().vault_candidate_window_seconds,
        },
        actor=actor,
    )


def _ensure_row(session: Session, tenant: str, caller: str, now: datetime) -> None:
    # Insert-or-ignore: two first requests of one caller never collide on the primary key.
    values = {"tenant": tenant, "caller": caller, "window_started_at": now, "used": 0}
    if session.get_bind().dialect.name == "postgresql":
        session.execute(pg_insert(VaultCandidateBudget).values(values).on_conflict_do_nothing())
    else:
        session.execute(sqlite_insert(VaultCandidateBudget).values(values).on_conflict_do_nothing())
