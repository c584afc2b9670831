"""Declared JSON fields: a small JSONPath subset (``$.card.number``, ``$.items[*].pan``,
``$.cards[0].number``) and the slots of a parsed body that hold them."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from vault.proxy.exceptions import ProxyBodyInvalid, RouteInvalid

_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]{0,63})|\[(\*|\d{1,4})\]")
MAX_DEPTH = 16
WILDCARD = None

Step = str | int | None  # a key, an index, or WILDCARD (every item of a list)


@dataclass(frozen=True, slots=True)
class FieldPath:
    text: str
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class Slot:
    """Where one declared value sits: ``container[key]``, and the path that found it."""

    container: Any
    key: str | int
    path: str

    @property
    def value(self) -> Any:
        return self.container[self.key]

    def replace(self, value: str) -> None:
        self.container[self.key] = value


def parse_path(text: str) -> FieldPath:
    """``$`` followed by ``.key``, ``[index]`` or ``[*]`` steps; nothing else."""
    if not text.startswith("$") or len(text) > 512:
        raise RouteInvalid("a field path starts with `$`, e.g. `$.card.number`")
    steps: list[Step] = []
    position = 1
    while position < len(text):
        match = _STEP.match(text, position)
        if match is None:
            raise RouteInvalid(
                f"field path {text!r}: use `.key`, `[index]` or `[*]` steps only (at {position})"
            )
        key, index = match.groups()
        if key is not None:
            steps.append(key)
        else:
            steps.append(WILDCARD if index == "*" else int(index))
        position = match.end()
    if not steps or len(steps) > MAX_DEPTH:
        raise RouteInvalid(f"field path {text!r}: 1 to {MAX_DEPTH} steps")
    if not isinstance(steps[-1], str):
        raise RouteInvalid(f"field path {text!r} must end with a key")
    return FieldPath(text, tuple(steps))


def locate(document: Any, path: FieldPath) -> list[Slot]:
    """Every slot the path reaches in ``document``; none when a step is absent (optional)."""
    return list(_walk(document, path.steps, "$"))


def _walk(node: Any, steps: Sequence[Step], where: str) -> Iterator[Slot]:
    step, rest = steps[0], steps[1:]
    if isinstance(step, str):
        if not isinstance(node, dict) or step not in node:
            return
        children: list[tuple[str | int, str]] = [(step, f"{where}.{step}")]
    elif isinstance(node, list):
        indexes = range(len(node)) if step is WILDCARD else [step] if step < len(node) else []
        children = [(i, f"{where}[{i}]") for i in indexes]
    else:
        return
    for key, child_where in children:
        if not rest:
            yield Slot(node, key, child_where)
        else:
            yield from _walk(node[key], rest, child_where)


def string_slots(document: Any, path: FieldPath) -> list[Slot]:
    """The slots of ``path``, each holding a string (null is skipped: nothing to convert)."""
    slots = [slot for slot in locate(document, path) if slot.value is not None]
    for slot in slots:
        if not isinstance(slot.value, str):
            raise ProxyBodyInvalid(f"the field at {slot.path} must be a string", field=slot.path)
    return slots
