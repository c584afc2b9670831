"""The completion certificate: canonical JSON of what was done for a request, Ed25519-signed with
the key the audit checkpoints use (the KMS provider). Verify it with ``openssl pkeyutl -verify
-pubin -inkey public-key.pem -rawin -in certificate.json -sigfile certificate.sig``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy.orm import Session

from compliance.gdpr.models import DsarCertificate, DsarOutcome, DsarRequest
from core.audit.signing import Signer

GENERATOR = "rampart.gdpr/1"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def certificate_document(request: DsarRequest, outcomes: Sequence[DsarOutcome]) -> bytes:
    """Canonical JSON (sorted keys, no spaces, UTF-8): the exact bytes that are signed."""
    document = {
        "request_id": str(request.id),
        "type": request.type,
        "subject": request.subject,
        "received_at": _iso(request.received_at),
        "due_at": _iso(request.extended_due_at or request.due_at),
        "completed_at": _iso(request.completed_at),
        "systems": [
            {
                "connector": o.connector,
                "status": o.status,
                "rows_affected": o.rows,
                "method": o.method,
                "holds": json.loads(o.holds),
            }
            for o in sorted(outcomes, key=lambda o: o.connector)
        ],
        "rows_affected": sum(o.rows for o in outcomes),
        "package_sha256": request.package_sha256,
        "generator": GENERATOR,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def public_key_pem(signer: Signer) -> bytes:
    key = Ed25519PublicKey.from_public_bytes(signer.public_signing_key())
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def sign_certificate(
    session: Session, signer: Signer, request: DsarRequest, outcomes: Sequence[DsarOutcome]
) -> DsarCertificate:
    body = certificate_document(request, outcomes)
    certificate = DsarCertificate(
        request_id=request.id,
        certificate_json=body,
        signature=signer.sign(body),
        public_key_pem=public_key_pem(signer),
    )
    session.merge(certificate)
    session.flush()
    return certificate
