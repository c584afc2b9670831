"""Policies as code: the policy file formats (YAML or Casbin CSV) read into canonical lines.

A canonical line is ``p, sub, dom, obj, act, eft, cond`` (cond may be empty), ``g, user, role,
domain`` or ``zone, name, cidr`` (the network-zone map the conditions read). The same text is
stored in the database, compared by ``diff`` and hashed into a version's digest.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from policies.enforcer import NetworkZones, PolicyInvalid, PolicyRule
from policies.enforcer.rules import parse_line
from policies.exceptions import PolicyFileInvalid

ZONE = "zone"
MAX_LINE_LENGTH = 2000


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    """Canonical lines in file order, each once."""

    lines: tuple[str, ...]

    @property
    def digest(self) -> str:
        return policy_digest(self.lines)


def canonical_line(raw: str) -> str | None:
    """The canonical form of one line, None for blanks and comments; PolicyInvalid otherwise."""
    text = raw.strip()
    if not text or text.startswith("#"):
        return None
    if len(text) > MAX_LINE_LENGTH:
        raise PolicyInvalid(f"policy lines are limited to {MAX_LINE_LENGTH} characters")
    kind = text.split(",", 1)[0].strip()
    if kind == ZONE:
        return _canonical_zone(text)
    parsed = parse_line(text)
    if isinstance(parsed, PolicyRule):
        return ("p, " + ", ".join(parsed.key)).rstrip()
    if parsed is None:  # pragma: no cover - blanks were handled above
        return None
    return "g, " + ", ".join(parsed)


def _canonical_zone(text: str) -> str:
    fields = [field.strip() for field in text.split(",")]
    if len(fields) != 3:
        raise PolicyInvalid("a zone line has 2 fields: name, cidr")
    _, name, cidr = fields
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError as exc:
        raise PolicyInvalid(f"invalid CIDR {cidr!r} for zone {name!r}") from exc
    NetworkZones({name: [str(network)]})  # validates the name
    return f"{ZONE}, {name}, {network}"


def canonical_lines(raw_lines: Iterable[str]) -> tuple[str, ...]:
    """Every line canonical, duplicates dropped (first kept); the error names the line number."""
    seen: dict[str, None] = {}
    for number, raw in enumerate(raw_lines, start=1):
        try:
            line = canonical_line(raw)
        except PolicyInvalid as exc:
            raise PolicyInvalid(f"line {number}: {exc.detail}") from exc
        if line is not None:
            seen.setdefault(line, None)
    return tuple(seen)


def policy_digest(lines: Iterable[str]) -> str:
    """SHA-256 of the set of lines (order-free: the decisions do not depend on order)."""
    digest = hashlib.sha256()
    for line in sorted(lines):
        digest.update(line.encode() + b"\n")
    return digest.hexdigest()


def is_zone(line: str) -> bool:
    return line.startswith(ZONE + ",")


def enforcer_lines(lines: Iterable[str]) -> list[str]:
    """The ``p`` and ``g`` lines, what the enforcer loads."""
    return [line for line in lines if not is_zone(line)]


def zones_of(lines: Iterable[str]) -> NetworkZones:
    zones: dict[str, list[str]] = {}
    for line in lines:
        if is_zone(line):
            _, name, cidr = (field.strip() for field in line.split(","))
            zones.setdefault(name, []).append(cidr)
    return NetworkZones(zones)


def raw_lines_of_yaml(data: Any, source: str) -> list[str]:
    """The lines a YAML policy document declares: ``zones`` (name -> CIDRs) and ``policy``."""
    if not isinstance(data, dict):
        raise PolicyFileInvalid(f"{source}: a policy file is a mapping with 'zones' and 'policy'")
    unknown = set(data) - {"zones", "policy", "description"}
    if unknown:
        raise PolicyFileInvalid(f"{source}: unknown keys {sorted(unknown)}")
    lines: list[str] = []
    zones = data.get("zones") or {}
    if not isinstance(zones, dict):
        raise PolicyFileInvalid(f"{source}: 'zones' maps a zone name to a list of CIDRs")
    for name, cidrs in zones.items():
        if not isinstance(cidrs, list) or not all(isinstance(c, str) for c in cidrs):
            raise PolicyFileInvalid(f"{source}: zone {name!r} needs a list of CIDR strings")
        lines.extend(f"{ZONE}, {name}, {cidr}" for cidr in cidrs)
    policy = data.get("policy") or []
    if not isinstance(policy, list) or not all(isinstance(line, str) for line in policy):
        raise PolicyFileInvalid(f"{source}: 'policy' is a list of 'p, ...' and 'g, ...' lines")
    lines.extend(policy)
    return lines


def read_raw_lines(path: Path) -> list[str]:
    """The lines of a policy file, not yet validated: ``.yaml``/``.yml`` or Casbin ``.csv``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyFileInvalid(f"{path}: cannot be read ({exc.strerror})") from exc
    if path.suffix in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise PolicyFileInvalid(f"{path}: not valid YAML ({exc})") from exc
        return raw_lines_of_yaml(data, str(path))
    return text.splitlines()


def load_policy_files(paths: Sequence[Path]) -> PolicyDocument:
    """One document from one or more files, in order (later duplicates dropped)."""
    raw: list[str] = []
    for path in paths:
        lines = read_raw_lines(path)
        try:
            canonical_lines(lines)
        except PolicyInvalid as exc:
            raise PolicyInvalid(f"{path}: {exc.detail}") from exc
        raw.extend(lines)
    return PolicyDocument(canonical_lines(raw))


def document_to_yaml(lines: Sequence[str]) -> str:
    """The YAML form of a set of lines (what ``rampart policy show --format yaml`` prints)."""
    zones: dict[str, list[str]] = {}
    for line in lines:
        if is_zone(line):
            _, name, cidr = (field.strip() for field in line.split(","))
            zones.setdefault(name, []).append(cidr)
    data: dict[str, Any] = {}
    if zones:
        data["zones"] = zones
    data["policy"] = enforcer_lines(lines)
    return str(yaml.safe_dump(data, sort_keys=False, width=200))
