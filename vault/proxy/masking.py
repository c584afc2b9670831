"""Card numbers in an upstream's answer are masked to their last four digits before the caller
sees them: a gateway echoing the PAN it was sent must not undo the proxy."""

from __future__ import annotations

import json
from typing import Any

from core.sensitive import card_numbers_in

MASK_CHAR = "*"


def mask_pan_text(text: str) -> tuple[str, int]:
    """``text`` with every Luhn-valid 13-19 digit run masked (last four kept); and how many."""
    if not any(ch.isdigit() for ch in text):
        return text, 0
    matches = list(card_numbers_in(text))
    for match in reversed(matches):
        digits = [c for c in match.group() if c.isdigit()]
        masked = MASK_CHAR * (len(digits) - 4) + "".join(digits[-4:])
        text = text[: match.start()] + masked + text[match.end() :]
    return text, len(matches)


def mask_response_body(body: bytes, content_type: str) -> tuple[bytes, int]:
    """The body with card numbers masked. JSON is walked (a card number sent as a JSON number
    becomes a masked string); anything else is masked as Latin-1 text, which keeps every byte
    that is not part of a card number unchanged."""
    if "json" in content_type.lower():
        try:
            document = json.loads(body)
        except ValueError:
            document = _NOT_JSON
        if document is not _NOT_JSON:
            masked, count = _mask_json(document)
            if count:
                return json.dumps(masked, separators=(",", ":")).encode(), count
            return body, 0
    text, count = mask_pan_text(body.decode("latin-1"))
    return (text.encode("latin-1"), count) if count else (body, 0)


_NOT_JSON = object()


def _mask_json(node: Any) -> tuple[Any, int]:
    if isinstance(node, str):
        return mask_pan_text(node)
    if isinstance(node, int) and not isinstance(node, bool):
        text, count = mask_pan_text(str(node))
        return (text, count) if count else (node, 0)
    if isinstance(node, list):
        pairs = [_mask_json(item) for item in node]
        return [p[0] for p in pairs], sum(p[1] for p in pairs)
    if isinstance(node, dict):
        total = 0
        masked: dict[str, Any] = {}
        for key, value in node.items():
            masked_key, key_count = mask_pan_text(key)
            masked[masked_key], count = _mask_json(value)
            total += count + key_count
        return masked, total
    return node, 0
