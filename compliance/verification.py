"""Re-verifies stored evidence: each record's canonical JSON and Ed25519 signature, its artefact
bytes, and its ledger entry (present, of the right type, naming this record and its digest).
Every ``compliance.evidence`` ledger entry must also still have its record (a deleted row shows).
The ledger's own chain is verified by ``rampart audit verify``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.evidence import (
    EVIDENCE_EVENT,
    canonical_evidence,
    digest_of,
    signed_message,
)
from compliance.models import EvidenceArtefact, EvidenceRecord
from core.audit.models import AuditEntry
from core.audit.signing import key_fingerprint

_BATCH = 1000


@dataclass
class EvidenceReport:
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_evidence(session: Session, trusted_public_keys: Iterable[bytes]) -> EvidenceReport:
    keys = {
        key_fingerprint(raw): Ed25519PublicKey.from_public_bytes(raw) for raw in trusted_public_keys
    }
    report = EvidenceReport()
    seen: set[str] = set()
    artefacts = _artefacts_by_evidence(session)
    last_id = None
    while True:
        query = select(EvidenceRecord).order_by(EvidenceRecord.id).limit(_BATCH)
        if last_id is not None:
            query = query.where(EvidenceRecord.id > last_id)
        batch = list(session.scalars(query))
        if not batch:
            break
        entries = _entries(session, [record.audit_seq for record in batch])
        for record in batch:
            seen.add(str(record.id))
            report.checked += 1
            report.problems += _problems(record, keys, entries.get(record.audit_seq), artefacts)
        last_id = batch[-1].id
        session.expunge_all()
    for seq, details in _evidence_entries(session):
        if details.get("evidence_id") not in seen:
            report.problems.append(
                f"audit entry {seq} records evidence {details.get('evidence_id')} "
                "that is no longer stored"
            )
    return report


def _problems(
    record: EvidenceRecord,
    keys: dict[str, Ed25519PublicKey],
    entry: AuditEntry | None,
    artefacts: dict[str, list[EvidenceArtefact]],
) -> list[str]:
    name = f"evidence {record.id}"
    try:
        canonical = canonical_evidence(record)
    except (orjson.JSONEncodeError, ValueError):
        return [f"{name}: a JSON column is no longer valid JSON"]
    problems: list[str] = []
    digest = digest_of(canonical)
    if digest != record.digest:
        problems.append(f"{name}: content does not match its digest")
    if not _signature_valid(keys, record, canonical):
        problems.append(f"{name}: signature does not verify with a trusted key")
    if entry is None:
        problems.append(f"{name}: audit entry {record.audit_seq} does not exist")
    else:
        details = orjson.loads(entry.details)
        if (
            entry.event_type != EVIDENCE_EVENT
            or details.get("evidence_id") != str(record.id)
            or details.get("sha256") != digest
        ):
            problems.append(f"{name}: audit entry {record.audit_seq} does not record it")
    problems += _artefact_problems(name, record, artefacts.get(str(record.id), []))
    return problems


def _signature_valid(
    keys: dict[str, Ed25519PublicKey], record: EvidenceRecord, canonical: bytes
) -> bool:
    # The stored fingerprint only orders the attempts; any trusted key may vouch.
    message = signed_message(canonical)
    for _, key in sorted(keys.items(), key=lambda item: item[0] != record.key_fingerprint):
        try:
            key.verify(record.signature, message)
        except InvalidSignature:
            continue
        return True
    return False


def _artefact_problems(
    name: str, record: EvidenceRecord, stored: list[EvidenceArtefact]
) -> list[str]:
    listed = orjson.loads(record.artefacts)
    rows = sorted(stored, key=lambda item: item.position)
    if [(a["name"], a["sha256"]) for a in listed] != [(r.name, r.sha256) for r in rows]:
        return [f"{name}: its artefacts differ from those it lists"]
    return [
        f"{name}: artefact {row.name!r} does not match its SHA-256"
        for row in rows
        if digest_of(row.content) != row.sha256
    ]


def _artefacts_by_evidence(session: Session) -> dict[str, list[EvidenceArtefact]]:
    grouped: dict[str, list[EvidenceArtefact]] = {}
    for row in session.scalars(select(EvidenceArtefact)):
        grouped.setdefault(str(row.evidence_id), []).append(row)
    return grouped


def _entries(session: Session, seqs: list[int]) -> dict[int, AuditEntry]:
    rows = session.scalars(select(AuditEntry).where(AuditEntry.seq.in_(seqs)))
    return {row.seq: row for row in rows}


def _evidence_entries(session: Session) -> Iterable[tuple[int, dict[str, str]]]:
    query = select(AuditEntry.seq, AuditEntry.details).where(
        AuditEntry.event_type == EVIDENCE_EVENT
    )
    for seq, details in session.execute(query):
        yield seq, orjson.loads(details)
