"""A completed request becomes compliance evidence: a signed record of the gdpr.dsar_completions
check (control gdpr:art-12.3) naming the request by id only — the subject id is personal data —
with its type, the systems and rows, and the SHA-256 of the package and of the certificate."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import socket
from collections.abc import Sequence

from sqlalchemy.orm import Session

from compliance.checks.base import REGISTRY
from compliance.checks.dsar import COMPLETIONS_CHECK, completions_result
from compliance.evidence import Outcome, record_evidence
from compliance.gdpr.models import DsarCertificate, DsarOutcome, DsarRequest
from compliance.models import EvidenceRecord
from core.audit.signing import Signer
from core.clock import utcnow


def completion_facts(
    request: DsarRequest, outcomes: Sequence[DsarOutcome], certificate: DsarCertificate
) -> dict[str, object]:
    due = request.extended_due_at or request.due_at
    return {
        "request_id": str(request.id),
        "type": request.type,
        "received_at": request.received_at.isoformat(),
        "due_at": due.isoformat(),
        "completed_at": request.completed_at.isoformat() if request.completed_at else None,
        "on_time": request.completed_at is not None and request.completed_at <= due,
        "systems": [
            {
                "connector": o.connector,
                "status": o.status,
                "rows": o.rows,
                "method": o.method,
                "holds": len(json.loads(o.holds)),
            }
            for o in sorted(outcomes, key=lambda o: o.connector)
        ],
        "rows": sum(o.rows for o in outcomes),
        "package_sha256": request.package_sha256,
        "certificate_sha256": hashlib.sha256(certificate.certificate_json).hexdigest(),
    }


def record_completion_evidence(
    session: Session,
    signer: Signer,
    request: DsarRequest,
    outcomes: Sequence[DsarOutcome],
    certificate: DsarCertificate,
) -> EvidenceRecord:
    """In the completion's transaction: the check's result as of now (every completion of the
    month, this one included) with this completion's facts beside it."""
    started = utcnow()
    session.flush()
    aggregate = completions_result(session, started)
    result = dataclasses.replace(
        aggregate,
        observed={
            **aggregate.observed,
            "request": completion_facts(request, outcomes, certificate),
        },
        target=f"gdpr/requests/{request.id}",
    )
    record = record_evidence(
        session,
        signer,
        Outcome(REGISTRY[COMPLETIONS_CHECK], result, started, utcnow()),
        collector=f"rampart-gdpr@{socket.gethostname()}",
    )
    request.evidence_id = record.id
    session.flush()
    return record
