"""OSCAL 1.x assessment results for an export, built as plain JSON and validated against
compliance-trestle's OSCAL models (the NIST schema as pydantic), so an invalid document never
leaves Rampart: one result for the period, one observation per control's latest evidence, one
finding per control with its objective status (satisfied / not-satisfied)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from compliance.controls import Framework
from compliance.exports.contents import Period
from compliance.posture import ControlPosture

_NAMESPACE = uuid.UUID("4f1c9c3e-7d1b-5c55-9b2a-7f0d5d1e2a10")
_NOT_TOKEN = re.compile(r"[^A-Za-z0-9._-]")


def oscal_control_id(framework: Framework, control_id: str) -> str:
    """An OSCAL token (starts with a letter): ``pci-dss-4.0.1_8.2.8``, ``gdpr_art-12.3``."""
    return _NOT_TOKEN.sub("-", f"{framework.id}_{control_id}")


def _uuid(*parts: str) -> str:
    # Stable ids: the same export (framework, period, as-of) names the same objects.
    return str(uuid.uuid5(_NAMESPACE, "|".join(parts)))


def _time(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def assessment_results(
    framework: Framework,
    period: Period,
    postures: Sequence[ControlPosture],
    generated_at: datetime,
    generator_version: str,
) -> bytes:
    """The document as JSON bytes; raises ValueError when trestle's models refuse it."""
    from trestle.oscal import OSCAL_VERSION
    from trestle.oscal.assessment_results import Model

    seed = f"{framework.id}|{_time(period.start)}|{_time(period.end)}|{_time(period.as_of)}"
    observations: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    local_ids = {framework.qualified(c): c.id for c in framework.controls}
    for item in postures:
        control = oscal_control_id(framework, local_ids[item.control_id])
        observation_uuid = _uuid(seed, "observation", item.control_id)
        observations.append(
            {
                "uuid": observation_uuid,
                "title": f"{item.control_id}: {item.status}",
                "description": "; ".join(item.reasons) or "every check passed within its cadence",
                "methods": ["TEST"],
                "collected": _time(item.last_evidence_at or period.as_of),
                "relevant-evidence": [
                    {
                        "href": "evidence/records.json",
                        "description": f"Signed evidence records of {item.control_id}",
                    }
                ],
            }
        )
        findings.append(
            {
                "uuid": _uuid(seed, "finding", item.control_id),
                "title": item.title[:250],
                "description": "; ".join(item.reasons) or "satisfied",
                "target": {
                    "type": "objective-id",
                    "target-id": f"{control}_obj",
                    "status": {
                        "state": "satisfied"
                        if item.status in ("pass", "waived")
                        else "not-satisfied",
                        "reason": item.status,
                    },
                },
                "related-observations": [{"observation-uuid": observation_uuid}],
            }
        )
    document = {
        "assessment-results": {
            "uuid": _uuid(seed, "document"),
            "metadata": {
                "title": f"{framework.name} {framework.version}: assessment results",
                "last-modified": _time(generated_at),
                "version": generator_version,
                "oscal-version": OSCAL_VERSION,
            },
            "import-ap": {"href": "#rampart-automated-assessment"},
            "results": [
                {
                    "uuid": _uuid(seed, "result"),
                    "title": f"Automated assessment as of {_time(period.as_of)}",
                    "description": (
                        f"Control status of {framework.name} rebuilt by Rampart from the signed "
                        "evidence recorded by the as-of moment."
                    ),
                    "start": _time(period.start),
                    "end": _time(period.until),
                    "reviewed-controls": {
                        "control-selections": [
                            {
                                "include-controls": [
                                    {"control-id": oscal_control_id(framework, c.id)}
                                    for c in framework.controls
                                ]
                            }
                        ]
                    },
                    "observations": observations,
                    "findings": findings,
                }
            ],
        }
    }
    Model.model_validate(document)  # trestle's OSCAL models: raises on any schema violation
    return orjson.dumps(document, option=orjson.OPT_INDENT_2)
