"""HTTP API of evidence exports (``/v1/evidence``): the signing key auditors compare out of
band, and the signed zip of a framework for an audit period. Compliance officers export with a
recent login, auditors too; both are policies (policies/defaults/rampart.yaml)."""

# No `from __future__ import annotations`: FastAPI must see the Annotated guards as objects.

import os
import uuid
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from compliance.config import ComplianceConfig
from compliance.exports.archive import public_key_pem
from compliance.exports.schemas import ExportIn, SigningKeyOut
from compliance.exports.service import (
    ensure_segment_signed,
    export_evidence,
    framework_of,
    resolve_period,
)
from core.audit.service import record_event
from core.audit.signing import key_fingerprint
from core.authz import Principal, authorize
from core.http import DbSession
from core.kms.provider import get_key_provider
from core.settings import get_settings
from core.strict_json import StrictJsonRoute
from scanners.reports.content import rampart_version

router = APIRouter(prefix="/v1/evidence", tags=["evidence"], route_class=StrictJsonRoute)

EvidenceReader = Annotated[Principal, authorize("evidence", "read")]
EvidenceExporter = Annotated[Principal, authorize("evidence", "export")]


@router.get("/key", response_model=SigningKeyOut, operation_id="evidence_signing_key")
def signing_key(caller: EvidenceReader) -> SigningKeyOut:
    """The Ed25519 key that signs exports (and audit checkpoints), with its fingerprint."""
    raw = get_key_provider().public_signing_key()
    return SigningKeyOut(
        public_key_pem=public_key_pem(raw).decode(), fingerprint=key_fingerprint(raw)
    )


@router.post(
    "/exports",
    response_class=FileResponse,
    operation_id="export_evidence",
    responses={
        200: {
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The signed zip (docs/evidence-export.md).",
        }
    },
)
def create_export(body: ExportIn, session: DbSession, caller: EvidenceExporter) -> FileResponse:
    """Build and download the signed evidence export of a framework for an audit period."""
    library = ComplianceConfig.from_env().library()
    framework = framework_of(library, body.framework)
    period = resolve_period(body.period_from, body.period_to, body.as_of)
    signer = get_key_provider()
    ensure_segment_signed(session, signer, period)
    directory = get_settings().data_dir / "exports"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / f"{uuid.uuid4().hex}.zip"
    summary = export_evidence(
        session,
        framework_id=framework.id,
        period=period,
        output=path,
        signer=signer,
        generator_version=rampart_version(),
        library=library,
    )
    record_event(
        session,
        event_type="evidence.exported",
        resource=f"evidence/{framework.id}",
        details={
            "framework": framework.id,
            "from": period.start.isoformat(),
            "to": period.end.isoformat(),
            "as_of": period.as_of.isoformat(),
            "sha256sums": summary.sums_sha256,
            "archive_sha256": summary.archive_sha256,
        },
    )
    name = f"rampart-evidence-{framework.id}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.zip"
    return FileResponse(
        path,
        media_type="application/zip",
        filename=name,
        headers={
            "X-Rampart-Archive-Sha256": summary.archive_sha256,
            "X-Rampart-Key-Fingerprint": summary.key_fingerprint,
        },
        background=BackgroundTask(os.unlink, path),
    )
