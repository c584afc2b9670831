"""keyMatch2 resource patterns: pycasbin's exact regex, and a segment trie that finds candidates.

A pattern whose every segment is a literal, a ``:param`` or a final ``*`` is "plain": the trie
matches it exactly as pycasbin's regex does (newlines included, see IndexedEnforcer._match).
Anything else ("complex") is found by its plain leading segments and judged by the regex itself.
"""

from __future__ import annotations

import enum
import re
import sys
from functools import lru_cache
from typing import Generic, Protocol, TypeAlias, TypeVar

from casbin.util.builtin_operators import KEY_MATCH2_PATTERN

from policies.enforcer.exceptions import PolicyInvalid

PARAM = None  # a ``:name`` segment: one or more characters other than '/'
_REGEX_SPECIAL = frozenset(".^$*+?{}[]\\|()")


@lru_cache(maxsize=65536)
def keymatch2_regex(pattern: str) -> re.Pattern[str]:
    """The regex pycasbin's ``keyMatch2(obj, pattern)`` runs, built the same way, compiled once."""
    key2 = pattern.replace("/*", "/.*")
    key2 = KEY_MATCH2_PATTERN.sub(r"\g<1>[^\/]+\g<2>", key2, 0)
    if key2 == "*":
        key2 = "(.*)"
    try:
        return re.compile("^" + key2 + "$")
    except re.error as exc:
        raise PolicyInvalid(f"resource pattern {pattern!r} is no valid keyMatch2 pattern") from exc


class Placement(enum.Enum):
    # Each value names the PathNode slot holding such patterns.
    END = "ends"  # the pattern ends at this node
    TAIL = "tails"  # the pattern ends with '/*' at this node: any rest without a newline
    COMPLEX = "complex"  # the pattern goes on with a segment only its regex can judge


def placement(pattern: str) -> tuple[tuple[str | None, ...], Placement]:
    """Where a pattern sits in the trie: its plain leading segments (PARAM for ``:name``) and how
    it ends. A complex pattern's regex starts with those same segments, so every path it matches
    walks through its node: the trie never hides a match, the regex decides the rest."""
    if pattern == "*":
        return (), Placement.TAIL
    parts = pattern.split("/")
    kind = Placement.END
    if len(parts) > 1 and parts[-1] == "*":
        parts.pop()
        kind = Placement.TAIL
    segments: list[str | None] = []
    for part in parts:
        if part.startswith(":") and len(part) > 1:
            segments.append(PARAM)
        elif ":" in part or not _REGEX_SPECIAL.isdisjoint(part):
            return tuple(segments), Placement.COMPLEX
        else:
            segments.append(part)
    return tuple(segments), kind


class HasSubject(Protocol):
    @property
    def sub(self) -> str: ...


T = TypeVar("T", bound=HasSubject)

# Most patterns end at their own node with one rule: keep that rule bare, a few in a list, and
# only a crowd (a popular path many roles share) in a dict by subject. Memory is per rule.
CROWD = 16
Group: TypeAlias = T | list[T] | dict[str, list[T]]


def _group_add(group: Group[T] | None, item: T) -> Group[T]:
    if group is None:
        return item
    if isinstance(group, list):
        group.append(item)
        if len(group) <= CROWD:
            return group
        crowd: dict[str, list[T]] = {}
        for member in group:
            crowd.setdefault(member.sub, []).append(member)
        return crowd
    if isinstance(group, dict):
        group.setdefault(item.sub, []).append(item)
        return group
    return [group, item]


def _group_remove(group: Group[T], item: T) -> Group[T] | None:
    if isinstance(group, list):
        group.remove(item)
        return group[0] if len(group) == 1 else group
    if isinstance(group, dict):
        items = group[item.sub]
        items.remove(item)
        if not items:
            del group[item.sub]
        return group or None
    return None if group == item else group


def _gather(group: Group[T], subjects: frozenset[str], out: list[T]) -> None:
    if isinstance(group, list):
        for item in group:
            if item.sub in subjects:
                out.append(item)
    elif isinstance(group, dict):
        if len(subjects) <= len(group):
            for subject in subjects:
                items = group.get(subject)
                if items is not None:
                    out.extend(items)
        else:
            for subject, items in group.items():
                if subject in subjects:
                    out.extend(items)
    elif group.sub in subjects:
        out.append(group)


class PathNode(Generic[T]):
    """One trie level: literal children, one ``:param`` child, and the rules that end here."""

    __slots__ = ("complex", "ends", "literals", "param", "tails")

    def __init__(self) -> None:
        self.literals: dict[str, PathNode[T]] | None = None
        self.param: PathNode[T] | None = None
        self.ends: Group[T] | None = None
        self.tails: Group[T] | None = None
        self.complex: Group[T] | None = None

    def is_empty(self) -> bool:
        return not (self.literals or self.param or self.ends or self.tails or self.complex)


class PathTrie(Generic[T]):
    """Patterns by path segment; each item kept where its pattern's plain part ends."""

    __slots__ = ("root",)

    def __init__(self) -> None:
        self.root: PathNode[T] = PathNode()

    def insert(self, pattern: str, item: T) -> None:
        segments, kind = placement(pattern)
        node = self.root
        for segment in segments:
            if segment is PARAM:
                if node.param is None:
                    node.param = PathNode()
                node = node.param
            else:
                if node.literals is None:
                    node.literals = {}
                child = node.literals.get(segment)
                if child is None:
                    child = node.literals[sys.intern(segment)] = PathNode()
                node = child
        setattr(node, kind.value, _group_add(getattr(node, kind.value), item))

    def remove(self, pattern: str, item: T) -> None:
        """Remove one item and prune the nodes it leaves empty (memory stays tied to rules)."""
        segments, kind = placement(pattern)
        path: list[tuple[PathNode[T], str | None]] = []
        node = self.root
        for segment in segments:
            child = node.param if segment is PARAM else (node.literals or {}).get(segment)
            if child is None:
                return
            path.append((node, segment))
            node = child
        group: Group[T] | None = getattr(node, kind.value)
        if group is None:
            return
        setattr(node, kind.value, _group_remove(group, item))
        for parent, segment in reversed(path):
            if not node.is_empty():
                break
            if segment is PARAM:
                parent.param = None
            elif parent.literals is not None:
                del parent.literals[segment]
                if not parent.literals:
                    parent.literals = None
            node = parent

    def collect(
        self,
        segments: list[str],
        subjects: frozenset[str],
        out: list[T],
        tail_ok: list[bool] | None = None,
    ) -> None:
        """Append the items of the given subjects whose pattern matches the path ``'/'.join(
        segments)`` (complex ones: may match). ``tail_ok[d]`` says whether the rest of the path
        from segment d holds no newline, which '.*' needs; None means the path has none."""
        self._walk(self.root, segments, 0, subjects, out, tail_ok)

    def _walk(
        self,
        node: PathNode[T],
        segments: list[str],
        depth: int,
        subjects: frozenset[str],
        out: list[T],
        tail_ok: list[bool] | None,
    ) -> None:
        # Iterative along literal chains, recursive only where a ':param' branch also applies.
        count = len(segments)
        while True:
            if depth == count:
                if node.ends is not None:
                    _gather(node.ends, subjects, out)
                return
            if node.tails is not None and (tail_ok is None or tail_ok[depth]):
                _gather(node.tails, subjects, out)
            if node.complex is not None:
                _gather(node.complex, subjects, out)
            segment = segments[depth]
            depth += 1
            if node.param is not None and segment:
                if node.literals is not None:
                    literal = node.literals.get(segment)
                    if literal is not None:
                        self._walk(literal, segments, depth, subjects, out, tail_ok)
                node = node.param
                continue
            if node.literals is None:
                return
            next_node = node.literals.get(segment)
            if next_node is None:
                return
            node = next_node
