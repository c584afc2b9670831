"""The certificate verifies with the real openssl against the KMS signing key; a flipped
byte fails."""

from __future__ import annotations

from pathlib import Path

from compliance.gdpr import service
from compliance.gdpr.certificate import sign_certificate
from compliance.gdpr.connectors.base import SubjectRef
from compliance.gdpr.models import DsarOutcome
from core.database import unit_of_work
from core.kms.provider import get_key_provider
from core.settings import Settings
from tests.fixtures.openssl import openssl_verify


def _verify(directory: Path) -> int:
    return openssl_verify(directory, "certificate.json", "certificate.sig").returncode


def test_certificate_verifies_with_openssl(settings: Settings, tmp_path: Path) -> None:
    with unit_of_work() as db:
        request = service.file_request(
            db,
            type="erasure",
            subject=SubjectRef("cust-9"),
            channel="officer",
            actor="user:o",
            identity_verified=True,
        )
        outcome = DsarOutcome(
            request_id=request.id,
            connector="vault",
            status="done",
            rows=3,
            method="crypto-shredded",
            holds="[]",
            detail="",
            attempts=1,
        )
        db.add(outcome)
        db.flush()
        sign_certificate(db, get_key_provider(), request, [outcome])
        request_id = request.id
    with unit_of_work(read_only=True) as db:
        files = service.certificate_of(db, request_id, subject=None)
    (tmp_path / "certificate.json").write_bytes(files.certificate_json)
    (tmp_path / "certificate.sig").write_bytes(files.signature)
    (tmp_path / "public-key.pem").write_bytes(files.public_key_pem)
    assert _verify(tmp_path) == 0
    flipped = bytearray(files.certificate_json)
    flipped[10] ^= 0x01
    (tmp_path / "certificate.json").write_bytes(bytes(flipped))
    assert _verify(tmp_path) != 0
