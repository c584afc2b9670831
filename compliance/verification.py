"""Re-verifies stored evidence: each record's canonical JSON and Ed25519 signature, its artefact
bytes, and its ledger entry (present, of the right type, naming this record and its digest).
Every ``compliance.evidence`` ledger entry must also still have its record (a deleted row shows).
The ledger's own chain is verified by ``rampart audit verify``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from uuid import UUID

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
    """Verify every stored record, then every ``compliance.evidence`` ledger entry's link back.
    Both are read in batches of ``_BATCH`` (records with their artefacts and ledger entries),
    so a large store is verified in bounded memory; ``session`` is emptied after each batch."""
    keys = {
        key_fingerprint(raw): Ed25519PublicKey.from_public_bytes(raw) for raw in trusted_public_keys
    }
    report = EvidenceReport()
    for batch in _record_batches(session):
        entries = _entries(session, [record.audit_seq for record in batch])
        artefacts = _artefacts_of(session, [record.id for record in batch])
        for record in batch:
            report.checked += 1
            stored = artefacts.get(record.id, [])
            report.problems += _problems(record, keys, entries.get(record.audit_seq), stored)
        session.expunge_all()
    for seq, evidence_id in _entries_without_record(session):
        report.problems.append(
            f"audit entry {seq} records evidence {evidence_id} that is no longer stored"
        )
    return report


def verify_record(
    session: Session,
    record: EvidenceRecord,
    trusted_public_keys: Iterable[bytes],
    artefacts: list[EvidenceArtefact],
) -> list[str]:
    """:func:`verify_evidence` of one record (its digest, signature, artefacts and ledger
    entry): the problems found, none when it holds (the dashboard's evidence page)."""
    keys = {
        key_fingerprint(raw): Ed25519PublicKey.from_public_bytes(raw) for raw in trusted_public_keys
    }
    entry = _entries(session, [record.audit_seq]).get(record.audit_seq)
    return _problems(record, keys, entry, artefacts)


def _record_batches(session: Session) -> Iterator[list[EvidenceRecord]]:
    last_id: UUID | None = None
    while True:
        query = select(EvidenceRecord).order_by(EvidenceRecord.id).limit(_BATCH)
        if last_id is not None:
            query = query.where(EvidenceRecord.id > last_id)
        batch = list(session.scalars(query))
        if not batch:
            return
        yield batch
        last_id = batch[-1].id


def _problems(
    record: EvidenceRecord,
    keys: dict[str, Ed25519PublicKey],
    entry: AuditEntry | None,
    artefacts: list[EvidenceArtefact],
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
    problems += _artefact_problems(name, record, artefacts)
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


def _artefacts_of(session: Session, evidence_ids: list[UUID]) -> dict[UUID, list[EvidenceArtefact]]:
    grouped: dict[UUID, list[EvidenceArtefact]] = {}
    query = select(EvidenceArtefact).where(EvidenceArtefact.evidence_id.in_(evidence_ids))
    for row in session.scalars(query):
        grouped.setdefault(row.evidence_id, []).append(row)
    return grouped


def _entries(session: Session, seqs: list[int]) -> dict[int, AuditEntry]:
    rows = session.scalars(select(AuditEntry).where(AuditEntry.seq.in_(seqs)))
    return {row.seq: row for row in rows}


def _entries_without_record(session: Session) -> Iterator[tuple[int, object]]:
    """``(seq, evidence id)`` of each evidence ledger entry whose record is not stored."""
    last_seq = 0
    while True:
        query = (
            select(AuditEntry.seq, AuditEntry.details)
            .where(AuditEntry.event_type == EVIDENCE_EVENT, AuditEntry.seq > last_seq)
            .order_by(AuditEntry.seq)
            .limit(_BATCH)
        )
        rows = [
            (seq, orjson.loads(details).get("evidence_id"))
            for seq, details in session.execute(query)
        ]
        if not rows:
            return
        named = {_as_uuid(evidence_id) for _, evidence_id in rows} - {None}
        stored = set(session.scalars(select(EvidenceRecord.id).where(EvidenceRecord.id.in_(named))))
        for seq, evidence_id in rows:
            if _as_uuid(evidence_id) not in stored:
                yield seq, evidence_id
        last_seq = rows[-1][0]


def _as_uuid(value: object) -> UUID | None:
    """The record id an entry names, as stored (``str(record.id)``); None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        parsed = UUID(value)
    except ValueError:
        return None
    return parsed if str(parsed) == value else None
