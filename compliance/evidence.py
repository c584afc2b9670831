"""Evidence records: their canonical JSON, their Ed25519 signature, their audit-ledger link.

What is signed is ``rampart-evidence/v1|`` followed by the canonical JSON of every column of the
record except the signature, its key fingerprint and the audit sequence number (which cannot be
known before the entry is appended; the entry's details carry the evidence id and digest instead,
so the link is checked from both ends). docs/compliance.md restates the format for auditors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy.orm import Session

from compliance.checks.base import Artefact, CheckResult, RegisteredCheck
from compliance.models import EvidenceArtefact, EvidenceRecord
from core.audit.canonical import format_occurred_at
from core.audit.service import append_prepared, prepare_event
from core.audit.signing import Signer, key_fingerprint
from core.ids import uuid7
from core.sensitive import MASK, contains_card_number, mask_card_numbers

EVIDENCE_CONTEXT = b"rampart-evidence/v1|"
EVIDENCE_EVENT = "compliance.evidence"


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8; values JSON cannot hold are written as text."""
    return orjson.dumps(
        _scrub(value), option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str
    ).decode()


def _scrub(value: Any) -> Any:
    """Card numbers never reach evidence, even when a check observes one (a Luhn scan's hit)."""
    if isinstance(value, str):
        return mask_card_numbers(value)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        return MASK if contains_card_number(str(value)) else value
    if isinstance(value, Mapping):
        return {_scrub(str(key)): _scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(item) for item in value]
    return mask_card_numbers(str(value))


def canonical_evidence(record: EvidenceRecord) -> bytes:
    """The canonical JSON of ``record`` (the JSON-valued columns embedded as stored)."""
    return orjson.dumps(
        {
            "artefacts": orjson.Fragment(record.artefacts),
            "check_id": record.check_id,
            "check_version": record.check_version,
            "collector": record.collector,
            "control_ids": orjson.Fragment(record.control_ids),
            "detail": record.detail,
            "expected": orjson.Fragment(record.expected),
            "finished_at": format_occurred_at(record.finished_at),
            "id": str(record.id),
            "observed": orjson.Fragment(record.observed),
            "started_at": format_occurred_at(record.started_at),
            "status": record.status,
            "target": record.target,
        }
    )


def signed_message(canonical: bytes) -> bytes:
    return EVIDENCE_CONTEXT + canonical


def digest_of(canonical: bytes) -> str:
    return hashlib.sha256(canonical).hexdigest()


@dataclass(frozen=True)
class Outcome:
    """What the engine observed of one check: its result and when it ran."""

    check: RegisteredCheck
    result: CheckResult
    started_at: datetime
    finished_at: datetime


def record_evidence(
    session: Session,
    signer: Signer,
    outcome: Outcome,
    *,
    collector: str,
    run_id: UUID | None = None,
) -> EvidenceRecord:
    """Sign ``outcome`` as an evidence record and append the ledger entry that records it, in
    the caller's transaction (both commit or neither)."""
    (record,) = record_evidence_many(session, signer, [outcome], collector=collector, run_id=run_id)
    return record


def record_evidence_many(
    session: Session,
    signer: Signer,
    outcomes: Sequence[Outcome],
    *,
    collector: str,
    run_id: UUID | None = None,
) -> list[EvidenceRecord]:
    """Sign each outcome as an evidence record and chain their ledger entries in order, under
    one lock of the chain head and one multi-row insert, in the caller's transaction."""
    fingerprint = key_fingerprint(signer.public_signing_key())
    records = [
        _signed_record(signer, outcome, collector, run_id, fingerprint) for outcome in outcomes
    ]
    events = [
        prepare_event(
            event_type=EVIDENCE_EVENT,
            outcome="success"
            if record.status in ("pass", "manual", "not_applicable")
            else "failure",
            resource=f"compliance/evidence/{record.id}",
            details={
                "evidence_id": str(record.id),
                "check": record.check_id,
                "controls": list(outcome.check.controls),
                "status": record.status,
                "sha256": record.digest,
            },
        )
        for record, outcome in zip(records, outcomes, strict=True)
    ]
    for record, entry in zip(records, append_prepared(session, events), strict=True):
        record.audit_seq = entry["seq"]
    session.add_all(records)
    if any(outcome.result.artefacts for outcome in outcomes):
        session.flush()  # no ORM relationship orders the inserts: the parents go first
    for record, outcome in zip(records, outcomes, strict=True):
        for position, artefact in enumerate(outcome.result.artefacts):
            session.add(
                EvidenceArtefact(
                    evidence_id=record.id,
                    position=position,
                    name=artefact.name,
                    media_type=artefact.media_type,
                    sha256=artefact.sha256,
                    content=artefact.content,
                )
            )
    return records


def _signed_record(
    signer: Signer, outcome: Outcome, collector: str, run_id: UUID | None, fingerprint: str
) -> EvidenceRecord:
    result = outcome.result
    record = EvidenceRecord(
        id=uuid7(),
        run_id=run_id,
        check_id=outcome.check.id,
        check_version=outcome.check.version,
        control_ids=canonical_json(list(outcome.check.controls)),
        target=mask_card_numbers(result.target)[:500],
        collector=collector[:255],
        started_at=outcome.started_at,
        finished_at=outcome.finished_at,
        status=result.status,
        observed=canonical_json(result.observed),
        expected=canonical_json(result.expected),
        detail=mask_card_numbers(result.detail),
        artefacts=canonical_json(_artefact_list(result.artefacts)),
    )
    canonical = canonical_evidence(record)
    record.digest = digest_of(canonical)
    record.signature = signer.sign(signed_message(canonical))
    record.key_fingerprint = fingerprint
    return record


def _artefact_list(artefacts: Sequence[Artefact]) -> list[dict[str, str]]:
    return [
        {"media_type": item.media_type, "name": item.name, "sha256": item.sha256}
        for item in artefacts
    ]
