"""Policy lines (``p, sub, dom, obj, act, eft, cond`` and ``g, user, role, domain``), validated.

A line is refused when pycasbin would read or evaluate it otherwise than it says (brackets regroup
CSV fields; a bad regex raises mid-decision): accepted lines mean the same to both enforcers.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field

from policies.enforcer.conditions import Predicate, action_alternatives, compile_condition
from policies.enforcer.exceptions import PolicyInvalid
from policies.enforcer.patterns import Placement, keymatch2_regex, placement

EFFECTS = ("allow", "deny")
_CSV_GROUPING = frozenset("()[]")


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One ``p`` rule as written; ``seq`` orders rules like pycasbin's policy list (explain)."""

    sub: str
    dom: str
    obj: str
    act: str
    eft: str
    cond: str = ""
    seq: int = field(default=0, compare=False)
    deny: bool = field(default=False, init=False, compare=False, repr=False)
    predicate: Predicate | None = field(default=None, init=False, compare=False, repr=False)
    actions: frozenset[str] | None = field(default=None, init=False, compare=False, repr=False)
    # Only complex patterns keep a regex; the trie alone decides plain ones.
    regex: re.Pattern[str] | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("sub", "dom", "obj", "act", "eft", "cond"):
            value = getattr(self, name)
            if not isinstance(value, str) or value != value.strip() or "," in value:
                raise PolicyInvalid(f"policy field {name}={value!r}: a trimmed string, no ','")
            if not _CSV_GROUPING.isdisjoint(value):
                raise PolicyInvalid(f"policy field {name}={value!r} may not hold brackets")
            # Rules repeat the same few names; one shared string each keeps memory per rule low.
            object.__setattr__(self, name, sys.intern(value))
        if self.eft not in EFFECTS:
            raise PolicyInvalid(f"effect must be allow or deny, got {self.eft!r}")
        object.__setattr__(self, "actions", action_alternatives(self.act))
        if placement(self.obj)[1] is Placement.COMPLEX:
            object.__setattr__(self, "regex", keymatch2_regex(self.obj))
        object.__setattr__(self, "deny", self.eft == "deny")
        object.__setattr__(self, "predicate", compile_condition(self.cond))

    @property
    def key(self) -> tuple[str, str, str, str, str, str]:
        return (self.sub, self.dom, self.obj, self.act, self.eft, self.cond)

    def as_line(self) -> str:
        """The CSV line; an empty condition leaves it ending in ',' (pycasbin strips fields)."""
        return ("p, " + ", ".join(self.key)).rstrip()


def _fields(line: str) -> list[str]:
    if not _CSV_GROUPING.isdisjoint(line):
        raise PolicyInvalid("policy lines may not hold brackets")
    return [token.strip() for token in line.split(",")]


def parse_line(line: str) -> PolicyRule | tuple[str, str, str] | None:
    """A ``p`` rule, a ``g`` link (user, role, domain), or None for blanks and comments."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    kind, *values = _fields(text)
    if kind == "p":
        if len(values) != 6:
            raise PolicyInvalid("a p line has 6 fields: sub, dom, obj, act, eft, cond (or empty)")
        sub, dom, obj, act, eft, cond = values
        return PolicyRule(sub, dom, obj, act, eft, cond)
    if kind == "g":
        if len(values) != 3:
            raise PolicyInvalid("a g line has 3 fields: user, role, domain")
        user, role, domain = values
        return sys.intern(user), sys.intern(role), sys.intern(domain)
    raise PolicyInvalid(f"unknown policy line type {kind!r}")
