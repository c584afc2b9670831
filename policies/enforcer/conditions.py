"""Zero-trust conditions: the request context a decision sees, and the rule `cond` column language.

A condition is compiled once into a predicate over :class:`DecisionContext`; pycasbin's Enforcer
(through ``conditionHolds``) and the indexed enforcer call the very same predicate.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from policies.enforcer.exceptions import PolicyInvalid

Predicate = Callable[["DecisionContext"], bool]

# Tolerated clock skew between the IdP and the deciding process, so a token minted "in the future"
# by a few seconds is still fresh; anything further ahead is refused like a stale one.
AUTH_TIME_SKEW_SECONDS = 60.0

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NAME = re.compile(r"[A-Za-z0-9_.:@-]+")
_HOURS = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)")


@dataclass(frozen=True, slots=True)
class DecisionContext:
    """What is known about the caller right now; built once per request, read by conditions."""

    now: float
    amr: frozenset[str] = frozenset()
    auth_time: float | None = None
    zone: str | None = None
    client_id: str | None = None
    minute_of_day: int = field(init=False)
    weekday: int = field(init=False)

    def __post_init__(self) -> None:
        moment = datetime.fromtimestamp(self.now, UTC)
        object.__setattr__(self, "minute_of_day", moment.hour * 60 + moment.minute)
        object.__setattr__(self, "weekday", moment.weekday())

    @classmethod
    def build(
        cls,
        *,
        now: datetime,
        amr: Iterable[str] = (),
        auth_time: datetime | None = None,
        ip: str | None = None,
        zones: NetworkZones | None = None,
        client_id: str | None = None,
    ) -> DecisionContext:
        """The context of one request: the network zone is resolved here, once, not per rule."""
        zone = zones.zone_of(ip) if zones is not None and ip is not None else None
        return cls(
            now=now.timestamp(),
            amr=frozenset(amr),
            auth_time=auth_time.timestamp() if auth_time is not None else None,
            zone=zone,
            client_id=client_id,
        )


class NetworkZones:
    """The configured CIDR map (zone name -> networks); the most specific network wins."""

    def __init__(self, zones: Mapping[str, Iterable[str]]) -> None:
        networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]] = []
        for zone, cidrs in zones.items():
            if not _NAME.fullmatch(zone):
                raise PolicyInvalid(f"invalid network zone name {zone!r}")
            for cidr in cidrs:
                try:
                    networks.append((ipaddress.ip_network(cidr, strict=False), zone))
                except ValueError as exc:
                    raise PolicyInvalid(f"invalid CIDR {cidr!r} for zone {zone!r}") from exc
        networks.sort(key=lambda item: item[0].prefixlen, reverse=True)
        self._networks = networks

    def zone_of(self, ip: str) -> str | None:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return None
        for network, zone in self._networks:
            if address.version == network.version and address in network:
                return zone
        return None


def _names(text: str) -> frozenset[str]:
    names = text.split("|")
    if not all(_NAME.fullmatch(name) for name in names):
        raise PolicyInvalid(f"invalid name list {text!r}")
    return frozenset(names)


def _has_mfa(ctx: DecisionContext) -> bool:
    # RFC 8176: the IdP puts "mfa" in amr whenever a second factor was verified.
    return "mfa" in ctx.amr


def _compile_clause(clause: str) -> Predicate:
    if clause == "mfa":
        return _has_mfa
    if clause == "!mfa":
        return lambda ctx: not _has_mfa(ctx)
    key, op, value = _split_clause(clause)
    if key == "amr" and op == "=":
        methods = _names(value)
        return lambda ctx: not methods.isdisjoint(ctx.amr)
    if key == "auth_age" and op == "<=":
        if not value.isdigit():
            raise PolicyInvalid(f"auth_age needs whole seconds, got {value!r}")
        limit = float(value)
        return lambda ctx: (
            ctx.auth_time is not None
            and -AUTH_TIME_SKEW_SECONDS <= ctx.now - ctx.auth_time <= limit
        )
    if key in ("zone", "client") and op in ("=", "!="):
        allowed = _names(value)
        attribute = "zone" if key == "zone" else "client_id"
        if op == "=":
            return lambda ctx: getattr(ctx, attribute) in allowed
        return lambda ctx: getattr(ctx, attribute) not in allowed
    if key == "hours" and op == "=":
        return _compile_hours(value)
    if key == "days" and op == "=":
        return _compile_days(value)
    raise PolicyInvalid(f"unknown condition {clause!r}")


def _split_clause(clause: str) -> tuple[str, str, str]:
    for op in ("<=", "!=", "="):
        key, found, value = clause.partition(op)
        if found:
            return key.strip(), op, value.strip()
    raise PolicyInvalid(f"unknown condition {clause!r}")


def _compile_hours(value: str) -> Predicate:
    match = _HOURS.fullmatch(value)
    if match is None:
        raise PolicyInvalid(f"hours must read HH:MM-HH:MM (UTC), got {value!r}")
    start = int(match[1]) * 60 + int(match[2])
    end = int(match[3]) * 60 + int(match[4])
    if start == end or end > 24 * 60:
        raise PolicyInvalid(f"empty or invalid time window {value!r}")
    if start < end:
        return lambda ctx: start <= ctx.minute_of_day < end
    # A window past midnight (22:00-06:00) wraps around.
    return lambda ctx: ctx.minute_of_day >= start or ctx.minute_of_day < end


def _compile_days(value: str) -> Predicate:
    first, dash, last = value.partition("-")
    if dash:
        if first not in _DAYS or last not in _DAYS:
            raise PolicyInvalid(f"invalid day range {value!r}")
        lo, hi = _DAYS.index(first), _DAYS.index(last)
        days = frozenset(range(lo, hi + 1) if lo <= hi else [*range(lo, 7), *range(hi + 1)])
    else:
        names = value.split("|")
        if not all(name in _DAYS for name in names):
            raise PolicyInvalid(f"invalid day list {value!r}")
        days = frozenset(_DAYS.index(name) for name in names)
    return lambda ctx: ctx.weekday in days


@lru_cache(maxsize=4096)
def compile_condition(text: str) -> Predicate | None:
    """The predicate of a `cond` column (clauses joined by '&', all must hold); None: always."""
    clauses = [clause.strip() for clause in text.split("&")] if text.strip() else []
    if not clauses:
        return None
    predicates = tuple(_compile_clause(clause) for clause in clauses)
    if len(predicates) == 1:
        return predicates[0]
    return lambda ctx: all(predicate(ctx) for predicate in predicates)


def condition_holds(cond: str, ctx: DecisionContext) -> bool:
    """``conditionHolds(p.cond, r.ctx)`` as registered on pycasbin's Enforcer."""
    predicate = compile_condition(cond)
    return True if predicate is None else bool(predicate(ctx))


@lru_cache(maxsize=4096)
def action_alternatives(act: str) -> frozenset[str] | None:
    """The actions a rule's `act` column names; None means every action ('*')."""
    if act == "*":
        return None
    return _names(act)


def action_matches(requested: str, act: str) -> bool:
    """``actionMatch(r.act, p.act)`` as registered on pycasbin's Enforcer.

    A malformed ``act`` matches nothing rather than raising: pycasbin evaluates the matcher once
    with empty policy fields when there are no rules, and that must deny, like the indexed enforcer.
    """
    try:
        alternatives = action_alternatives(act)
    except PolicyInvalid:
        return False
    return alternatives is None or requested in alternatives
