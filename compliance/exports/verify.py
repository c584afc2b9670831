"""Verifying an export offline, as an auditor would with standard tools and more: every member
is listed in ``SHA256SUMS`` with its digest and nothing else is in the zip; the signature over
``SHA256SUMS`` holds for ``public-key.pem``; that key is one the caller trusts; every evidence
record's own signature holds; the ledger segment chains and its checkpoints are signed."""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

from compliance.evidence import EVIDENCE_CONTEXT, digest_of
from compliance.exports.archive import PUBLIC_KEY, ROOT_FILES, SIGNATURE, SUMS
from core.audit.canonical import entry_hash
from core.audit.signing import checkpoint_message, key_fingerprint

_LINE = re.compile(r"^([0-9a-f]{64})  (\S+)$")


@dataclass
class ExportVerification:
    fingerprint: str = ""
    trusted: bool = False
    members: int = 0
    evidence_records: int = 0
    ledger_entries: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_export(path: Path, trusted_keys: Iterable[bytes] = ()) -> ExportVerification:
    result = ExportVerification()
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        result.problems.append(f"not a readable zip: {exc}")
        return result
    with archive:
        names = archive.namelist()
        missing = ROOT_FILES - set(names)
        if missing:
            result.problems.append("missing at the root: " + ", ".join(sorted(missing)))
            return result
        if len(names) != len(set(names)):
            result.problems.append("a member name appears twice in the zip")
        key = _public_key(archive, result)
        if key is None:
            return result
        raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        result.fingerprint = key_fingerprint(raw)
        trusted = {bytes(k) for k in trusted_keys}
        result.trusted = raw in trusted
        sums = archive.read(SUMS)
        try:
            key.verify(archive.read(SIGNATURE), sums)
        except InvalidSignature:
            result.problems.append("SHA256SUMS.sig is not a valid signature of SHA256SUMS")
        _check_sums(archive, sums, set(names) - ROOT_FILES, result)
        keys = {key_fingerprint(k): Ed25519PublicKey.from_public_bytes(k) for k in trusted | {raw}}
        if "evidence/records.json" in names:
            _check_evidence(archive, keys, result)
        if "audit/ledger.jsonl" in names:
            _check_ledger(archive, keys, result)
    return result


def _public_key(archive: zipfile.ZipFile, result: ExportVerification) -> Ed25519PublicKey | None:
    try:
        key = load_pem_public_key(archive.read(PUBLIC_KEY))
    except ValueError:
        key = None
    if not isinstance(key, Ed25519PublicKey):
        result.problems.append("public-key.pem is not an Ed25519 public key")
        return None
    return key


def _check_sums(
    archive: zipfile.ZipFile, sums: bytes, members: set[str], result: ExportVerification
) -> None:
    listed: dict[str, str] = {}
    for number, line in enumerate(sums.decode("ascii", "replace").splitlines(), 1):
        match = _LINE.match(line)
        if match is None or match[2] in listed:
            result.problems.append(f"SHA256SUMS line {number} is malformed or repeated")
            continue
        listed[match[2]] = match[1]
    for name in sorted(members - listed.keys()):
        result.problems.append(f"{name} is in the zip but not in SHA256SUMS")
    for name in sorted(listed.keys() - members):
        result.problems.append(f"{name} is in SHA256SUMS but not in the zip")
    for name in sorted(listed.keys() & members):
        digest = hashlib.sha256()
        with archive.open(name) as member:
            for chunk in iter(lambda: member.read(1 << 20), b""):
                digest.update(chunk)
        if digest.hexdigest() != listed[name]:
            result.problems.append(f"{name} does not match its SHA-256 in SHA256SUMS")
        result.members += 1


def _canonical(record: dict[str, Any]) -> bytes:
    signed = {
        key: record[key]
        for key in (
            "artefacts",
            "check_id",
            "check_version",
            "collector",
            "control_ids",
            "detail",
            "expected",
            "finished_at",
            "id",
            "observed",
            "started_at",
            "status",
            "target",
        )
    }
    return orjson.dumps(signed, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def _check_evidence(
    archive: zipfile.ZipFile, keys: dict[str, Ed25519PublicKey], result: ExportVerification
) -> None:
    try:
        records = orjson.loads(archive.read("evidence/records.json"))
    except orjson.JSONDecodeError:
        result.problems.append("evidence/records.json is not JSON")
        return
    for record in records:
        result.evidence_records += 1
        try:
            canonical = _canonical(record)
            signature = base64.b64decode(record["signature"], validate=True)
            fingerprint = record["key_fingerprint"]
        except (KeyError, TypeError, ValueError):
            result.problems.append(f"evidence record {record.get('id')!r} is incomplete")
            continue
        if digest_of(canonical) != record.get("digest"):
            result.problems.append(f"evidence record {record['id']} does not match its digest")
            continue
        key = keys.get(fingerprint)
        if key is None:
            result.problems.append(f"evidence record {record['id']} is signed by an unknown key")
            continue
        try:
            key.verify(signature, EVIDENCE_CONTEXT + canonical)
        except InvalidSignature:
            result.problems.append(f"evidence record {record['id']} has a bad signature")


def _check_ledger(
    archive: zipfile.ZipFile, keys: dict[str, Ed25519PublicKey], result: ExportVerification
) -> None:
    hashes: dict[int, str] = {}
    previous: tuple[int, str] | None = None
    with archive.open("audit/ledger.jsonl") as lines:
        for line in lines:
            entry = orjson.loads(line)
            seq = int(entry["seq"])
            computed = entry_hash(
                seq,
                entry["prev_hash"],
                entry["occurred_at"],
                entry["actor"],
                entry["event_type"],
                entry["outcome"],
                entry["origin"],
                entry["resource"],
                entry["request_id"],
                entry["details"],
            )
            if computed != entry["hash"]:
                result.problems.append(f"ledger entry {seq} does not match its hash")
            if previous is not None and (
                seq != previous[0] + 1 or entry["prev_hash"] != previous[1]
            ):
                result.problems.append(f"ledger entry {seq} does not link to entry {previous[0]}")
            previous = (seq, computed)
            hashes[seq] = computed
            result.ledger_entries += 1
    checkpoints = orjson.loads(archive.read("audit/checkpoints.json"))
    for checkpoint in checkpoints:
        seq, signed_hash = int(checkpoint["seq"]), str(checkpoint["hash"])
        key = keys.get(checkpoint["key_fingerprint"])
        signature = base64.b64decode(checkpoint["signature"])
        if hashes.get(seq) != signed_hash:
            result.problems.append(f"checkpoint {seq} does not sign the exported entry {seq}")
        elif key is None:
            result.problems.append(f"checkpoint {seq} is signed by an unknown key")
        else:
            try:
                key.verify(signature, checkpoint_message(seq, signed_hash))
            except InvalidSignature:
                result.problems.append(f"checkpoint {seq} has a bad signature")
        result.checkpoints += 1
    if previous is not None and not any(int(c["seq"]) == previous[0] for c in checkpoints):
        result.problems.append(f"the ledger segment's last entry {previous[0]} is not signed")
