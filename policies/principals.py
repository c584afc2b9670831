"""How a verified caller (core.authz.Principal) is seen by the policy: Casbin subjects and the
decision context of its request."""

from __future__ import annotations

from datetime import datetime

from core.authz import Principal
from policies.enforcer import DecisionContext
from policies.runtime import DecisionView


def subject_name(principal: Principal) -> str:
    """``client:<client_id>`` for a service, ``user:<sub>`` for a person."""
    return principal.name


def principal_subjects(principal: Principal) -> list[str]:
    """The principal's own subject and its roles (``role:<name>``), all checked."""
    return [subject_name(principal), *(f"role:{role}" for role in principal.roles)]


def principal_context(
    view: DecisionView, principal: Principal, *, now: datetime, ip: str | None
) -> DecisionContext:
    return view.context(
        now=now,
        amr=principal.amr,
        auth_time=principal.auth_time,
        ip=ip,
        client_id=principal.client_id,
    )
