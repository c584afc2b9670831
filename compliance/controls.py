"""Loads the control library (YAML, one file per framework) into validated, frozen models.

A bad file is one clear error naming the file, the line and the field; nothing is loaded then.
Frequencies are ISO 8601 durations of one unit (``P1D``, ``P2W``, ``P3M``, ``P1Y``): evidence
older than its control's frequency makes the control failing.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import RampartError

LIBRARY_DIR = Path(__file__).parent / "library"

OwnerRole = Literal["admin", "security_staff", "compliance_officer"]
_DURATION = re.compile(r"P(?P<count>[1-9][0-9]*)(?P<unit>[DWMY])")
_CONTROL_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z.\-]*")


class ControlLibraryInvalid(RampartError):
    slug, title = "control-library-invalid", "Control library is invalid"


@dataclass(frozen=True)
class Frequency:
    """How often a control needs fresh evidence: ``count`` days, weeks, months or years."""

    count: int
    unit: Literal["D", "W", "M", "Y"]

    @classmethod
    @cache  # a trend judges each control at 53 moments: parse each text once
    def parse(cls, text: str) -> Frequency:
        match = _DURATION.fullmatch(text)
        if match is None:
            raise ValueError(f"{text!r} is not an ISO 8601 duration like P1D, P2W, P3M or P1Y")
        return cls(int(match["count"]), match["unit"])  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"P{self.count}{self.unit}"

    def expires(self, collected_at: datetime) -> datetime:
        """When evidence collected at ``collected_at`` stops counting (months clamp to the
        month's last day: evidence of 31 January for P1M expires on 28/29 February)."""
        if self.unit == "D":
            return collected_at + timedelta(days=self.count)
        if self.unit == "W":
            return collected_at + timedelta(weeks=self.count)
        months = self.count * (12 if self.unit == "Y" else 1)
        return add_months(collected_at, months)


def add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` later, clamped to that month's last day."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    next_month = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=moment.tzinfo)
    last_day = (next_month - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ManualEvidence(_Strict):
    """A slot an owner fills by uploading a document (SHA-256 kept) before it is due."""

    description: str = Field(min_length=1)


class Remediation(_Strict):
    """A fix the engine proposes when the control is failing (``compliance/remediation.py``):
    ``auto`` runs it at once, ``approval`` waits for a compliance officer or security staff."""

    action: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
    """A registered remediation, e.g. ``iam.disable_inactive_accounts``."""
    mode: Literal["auto", "approval"] = "approval"


class Control(_Strict):
    id: str
    """Framework-local id: ``8.3.4`` (PCI DSS), ``art-12.3`` (GDPR Article 12(3))."""
    title: str = Field(min_length=1)
    reference: str = Field(min_length=1)
    """Citation in the framework: ``PCI DSS v4.0.1 Requirement 8.3.4``, ``GDPR Article 12(3)``."""
    description: str = ""
    owner_role: OwnerRole
    frequency: str
    checks: tuple[str, ...] = ()
    """Ids of automated checks (``compliance.checks.base.REGISTRY``)."""
    manual: ManualEvidence | None = None
    remediation: Remediation | None = None

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _CONTROL_ID.fullmatch(value):
            raise ValueError("letters, digits, '.' and '-' only, e.g. 8.3.4 or art-12.3")
        return value

    @field_validator("frequency")
    @classmethod
    def _frequency_shape(cls, value: str) -> str:
        Frequency.parse(value)
        return value

    @model_validator(mode="after")
    def _has_evidence_source(self) -> Control:
        if not self.checks and self.manual is None:
            raise ValueError("a control needs automated checks, a manual evidence slot, or both")
        return self

    @property
    def cadence(self) -> Frequency:
        return Frequency.parse(self.frequency)


class Framework(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    """``pci-dss-4.0.1`` or ``gdpr``: the prefix of qualified control ids."""
    name: str
    version: str
    publisher: str
    controls: tuple[Control, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Framework:
        seen: set[str] = set()
        for control in self.controls:
            if control.id in seen:
                raise ValueError(f"control id {control.id!r} appears twice")
            seen.add(control.id)
        return self

    def qualified(self, control: Control) -> str:
        return f"{self.id}:{control.id}"


@dataclass(frozen=True)
class ControlLibrary:
    frameworks: Mapping[str, Framework]

    def controls(self, framework: str | None = None) -> Iterable[tuple[Framework, Control]]:
        for item in self.frameworks.values():
            if framework is None or item.id == framework:
                for control in item.controls:
                    yield item, control

    def control(self, qualified_id: str) -> tuple[Framework, Control]:
        framework_id, _, control_id = qualified_id.partition(":")
        framework = self.frameworks.get(framework_id)
        for control in framework.controls if framework else ():
            if control.id == control_id:
                return framework, control  # type: ignore[return-value]
        raise KeyError(qualified_id)


def _line_of(node: yaml.Node, location: Sequence[int | str]) -> int:
    """1-based line of the YAML node at a pydantic error location (nearest existing parent)."""
    for step in location:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == step), None)
            if child is None:  # an unknown or missing key: point at the key itself if present
                key = next((k for k, _ in node.value if k.value == step), None)
                return (key or node).start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            child = node.value[step] if step < len(node.value) else None
        if child is None:
            break
        node = child
    return node.start_mark.line + 1


def _field_of(framework: Any, location: Sequence[int | str]) -> str:
    """``controls[3].frequency`` — with the control's id when it has one."""
    parts: list[str] = []
    for step in location:
        if isinstance(step, int):
            parts[-1] += f"[{step}]"
        else:
            parts.append(str(step))
    text = ".".join(parts)
    if len(location) >= 2 and location[0] == "controls" and isinstance(location[1], int):
        with contextlib.suppress(KeyError, IndexError, TypeError):
            text += f" (control {framework['controls'][location[1]]['id']})"
    return text or "(file)"


def load_framework(path: Path) -> Framework:
    text = path.read_text(encoding="utf-8")
    # libyaml's loader when it is there (the pure-Python one costs ~0.3 s per CLI start); the
    # node tree, only needed to name a bad field's line, is composed when validation fails.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise ControlLibraryInvalid(f"{path}{where}: not valid YAML ({exc})") from None
    try:
        return Framework.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        location = tuple(step for step in error["loc"] if not isinstance(step, str) or step)
        node = yaml.compose(text, Loader=loader)
        line = _line_of(node, location) if node is not None else 1
        raise ControlLibraryInvalid(
            f"{path}:{line}: {_field_of(data, location)}: {error['msg']}",
            errors=exc.error_count(),
        ) from None


def load_library(directory: Path = LIBRARY_DIR) -> ControlLibrary:
    """Every ``*.yaml`` framework in ``directory``; the first bad file stops the load."""
    frameworks: dict[str, Framework] = {}
    for path in sorted(directory.glob("*.yaml")):
        framework = load_framework(path)
        if framework.id in frameworks:
            raise ControlLibraryInvalid(f"{path}: framework {framework.id!r} is defined twice")
        frameworks[framework.id] = framework
    return ControlLibrary(frameworks)


@cache
def default_library() -> ControlLibrary:
    return load_library()
