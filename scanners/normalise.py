"""From an engine's observation to a stored finding's fields: the URL template (numeric, UUID
and hex-id path segments and every query value replaced), masked evidence and the fingerprint
that dedupes reruns: SHA-256 of (target, rule key, URL template, parameter, method)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from core.sensitive import mask_card_numbers
from scanners.engines.base import Observation
from scanners.exceptions import TargetInvalid
from scanners.rules import CONFIDENCES, RISKS, RULES, Rule
from vault.proxy.masking import mask_pan_text

_ID_SEGMENT = re.compile(
    r"\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,}",
    re.IGNORECASE,
)
MAX_EVIDENCE = 500


@dataclass(frozen=True, slots=True)
class NormalisedFinding:
    fingerprint: str
    rule: Rule
    risk: str
    confidence: str
    url_template: str
    url: str  # an example URL, card numbers masked
    parameter: str
    method: str
    evidence: str  # card numbers masked (last four kept)


def url_template(url: str) -> str:
    """``https://shop/orders/123?page=2&q=x`` -> ``https://shop/orders/{id}?page={value}&q={value}``."""
    parts = urlsplit(url)
    segments = ["{id}" if _ID_SEGMENT.fullmatch(s) else s for s in parts.path.split("/")]
    path = "/".join(segments) or "/"
    keys = sorted({key for key, _ in parse_qsl(parts.query, keep_blank_values=True)})
    query = "&".join(f"{key}={{value}}" for key in keys)
    netloc = (parts.hostname or "").lower() + (f":{parts.port}" if parts.port else "")
    return f"{parts.scheme}://{netloc}{path}" + (f"?{query}" if query else "")


def fingerprint(target: str, rule: str, template: str, parameter: str, method: str) -> str:
    # Engine-independent on purpose: the same issue reported by ZAP and the built-in engine
    # is one finding. JSON keeps the parts apart (no two tuples encode alike).
    canonical = json.dumps([target, rule, template, parameter, method.upper()])
    return hashlib.sha256(canonical.encode()).hexdigest()


def mask_evidence(text: str) -> str:
    masked, _ = mask_pan_text(text[: MAX_EVIDENCE * 2])
    return masked[:MAX_EVIDENCE]


def normalise(target_id: str, observation: Observation) -> NormalisedFinding:
    rule = RULES.get(observation.rule)
    if rule is None:
        raise TargetInvalid(f"an engine reported the unknown rule {observation.rule!r}")
    risk = observation.risk or rule.risk
    confidence = observation.confidence
    if risk not in RISKS or confidence not in CONFIDENCES:
        raise TargetInvalid(f"an engine reported an unknown risk or confidence for {rule.key}")
    template = mask_card_numbers(url_template(observation.url))
    parameter = mask_card_numbers(observation.parameter)[:300]
    method = observation.method.upper()
    return NormalisedFinding(
        fingerprint=fingerprint(target_id, rule.key, template, parameter, method),
        rule=rule,
        risk=risk,
        confidence=confidence,
        url_template=template[:2000],
        url=mask_card_numbers(observation.url)[:2000],
        parameter=parameter,
        method=method,
        evidence=mask_evidence(observation.evidence),
    )
