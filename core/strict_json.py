"""The one parser for JSON request bodies: standard JSON, except that an object naming a key
twice is refused instead of silently keeping its last value (a body that one reader (a proxy,
an audit line, a check) takes one way and Rampart another)."""

from __future__ import annotations

import json
from typing import Any

from core.errors import BadRequest
from core.logging import mask_text

_KEY_SHOWN = 64  # characters of the duplicated key named in the problem


class DuplicateJsonKey(BadRequest):
    slug, title = "duplicate-json-key", "Duplicate key in JSON body"

    def __init__(self, key: str) -> None:
        # The key only, never its values; masked like any location taken from the caller.
        shown = mask_text(key[:_KEY_SHOWN])
        super().__init__(f"The key {shown!r} appears more than once in one object.", key=shown)


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateJsonKey(key)
            seen.add(key)
    return document


def loads(body: bytes | str) -> Any:
    """``body`` parsed; DuplicateJsonKey (400) for a repeated key at any depth, ValueError
    (json.JSONDecodeError) for anything that is not JSON."""
    return json.loads(body, object_pairs_hook=_unique)
