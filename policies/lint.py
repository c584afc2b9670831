"""`rampart policy lint`: errors (lines the enforcer refuses) and warnings (lines that are valid
but probably not what their author meant: keyMatch2 reading ':' as a parameter, dead roles...)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from policies.document import ZONE, canonical_line
from policies.enforcer import PolicyInvalid

_CONDITION_ZONES = re.compile(r"zone\s*!?=\s*([A-Za-z0-9_.:@|-]+)")
SUBJECT_PREFIXES = ("role:", "user:", "client:")


@dataclass(frozen=True, slots=True)
class LintFinding:
    level: str  # "error" | "warning"
    line_number: int
    line: str
    message: str


def lint_lines(raw_lines: Sequence[str]) -> list[LintFinding]:
    findings: list[LintFinding] = []
    seen: dict[str, int] = {}
    rules: list[tuple[int, list[str]]] = []
    links: list[tuple[int, list[str]]] = []
    zones: set[str] = set()
    for number, raw in enumerate(raw_lines, start=1):
        try:
            line = canonical_line(raw)
        except PolicyInvalid as exc:
            findings.append(LintFinding("error", number, raw.strip(), exc.detail))
            continue
        if line is None:
            continue
        if line in seen:
            findings.append(LintFinding("warning", number, line, f"duplicate of line {seen[line]}"))
            continue
        seen[line] = number
        fields = [field.strip() for field in line.split(",")]
        if fields[0] == "p":
            rules.append((number, fields[1:]))
        elif fields[0] == "g":
            links.append((number, fields[1:]))
        elif fields[0] == ZONE:
            zones.add(fields[1])
    findings.extend(_rule_warnings(rules, zones))
    findings.extend(_link_warnings(rules, links))
    return sorted(findings, key=lambda finding: finding.line_number)


def _rule_warnings(rules: list[tuple[int, list[str]]], zones: set[str]) -> list[LintFinding]:
    found: list[LintFinding] = []
    for number, (sub, _dom, obj, act, eft, cond) in rules:
        line = f"p, {sub}, {_dom}, {obj}, {act}, {eft}, {cond}".rstrip()
        for segment in obj.split("/"):
            if ":" in segment[1:]:
                found.append(
                    LintFinding(
                        "warning",
                        number,
                        line,
                        f"object {obj!r}: keyMatch2 reads ':{segment.split(':', 1)[1]}' as a "
                        "parameter (any text); write resources as paths, e.g. 'vault/pan'",
                    )
                )
                break
        if not sub.startswith(SUBJECT_PREFIXES):
            found.append(
                LintFinding(
                    "warning",
                    number,
                    line,
                    f"subject {sub!r} has none of the prefixes {', '.join(SUBJECT_PREFIXES)}",
                )
            )
        for match in _CONDITION_ZONES.finditer(cond):
            for zone in match.group(1).split("|"):
                if zone not in zones:
                    found.append(
                        LintFinding("error", number, line, f"condition names unknown zone {zone!r}")
                    )
        if eft == "allow" and obj == "*" and act == "*" and not cond:
            found.append(
                LintFinding(
                    "warning",
                    number,
                    line,
                    "allows everything with no condition (zero trust: require mfa at least)",
                )
            )
    return found


def _link_warnings(
    rules: list[tuple[int, list[str]]], links: list[tuple[int, list[str]]]
) -> list[LintFinding]:
    granted = {fields[0] for _, fields in rules}
    inherited = {fields[0] for _, fields in links}
    found: list[LintFinding] = []
    for number, (user, role, domain) in links:
        if role not in granted and role not in inherited:
            found.append(
                LintFinding(
                    "warning",
                    number,
                    f"g, {user}, {role}, {domain}",
                    f"role {role!r} is granted nothing and inherits nothing",
                )
            )
    return found
