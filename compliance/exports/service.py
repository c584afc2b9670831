"""Building an evidence export: the members of ``compliance.exports.contents`` written one after
the other into a signed zip (``compliance.exports.archive``), first to a temporary file beside
the output, renamed into place only once sealed, so a failure never leaves half an archive."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.orm import Session

from compliance.controls import ControlLibrary, Framework, default_library
from compliance.exports import contents
from compliance.exports.archive import SignedZipWriter
from compliance.exports.contents import Period
from compliance.posture import posture
from core.audit.signing import Signer, key_fingerprint
from core.clock import utcnow
from core.errors import NotFound, ValidationFailed

FORMAT = "rampart-evidence-export/1"
# (stage, done, total): stages are named in docs/evidence-export.md; total None = unknown.
Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True, slots=True)
class ExportSummary:
    path: Path
    framework: str
    period: Period
    sums_sha256: str
    archive_sha256: str
    key_fingerprint: str
    counts: dict[str, Any] = field(default_factory=dict)


def resolve_period(
    start: datetime, end: datetime, as_of: datetime | None, now: datetime | None = None
) -> Period:
    """The period ``[start, end)``; ``as_of`` defaults to the earlier of ``end`` and now and
    may not lie in the future (nothing is known of it yet)."""
    now = now or utcnow()
    if start >= end:
        raise ValidationFailed("--from must be before --to")
    moment = as_of if as_of is not None else min(end, now)
    if moment > now:
        raise ValidationFailed("--as-of lies in the future")
    if moment < start:
        raise ValidationFailed("--as-of lies before the period starts")
    return Period(start, end, moment)


def framework_of(library: ControlLibrary, framework_id: str) -> Framework:
    framework = library.frameworks.get(framework_id)
    if framework is None:
        known = ", ".join(sorted(library.frameworks))
        raise NotFound(f"no framework {framework_id!r} (known: {known})")
    return framework


def export_evidence(
    session: Session,
    *,
    framework_id: str,
    period: Period,
    output: Path,
    signer: Signer,
    generator_version: str,
    library: ControlLibrary | None = None,
    progress: Progress | None = None,
) -> ExportSummary:
    """Write the export of ``framework_id`` for ``period`` to ``output`` (read-only on the
    database; the caller records the ``evidence.exported`` audit entry)."""
    report = progress or (lambda stage, done, total: None)
    library = library or default_library()
    framework = framework_of(library, framework_id)
    generated_at = utcnow()
    fingerprint = key_fingerprint(signer.public_signing_key())
    temporary = output.with_name(f".{output.name}.{os.getpid()}.partial")
    try:
        with SignedZipWriter(temporary) as archive:
            counts = _write_members(
                archive,
                session,
                library,
                framework,
                period,
                generated_at,
                generator_version,
                fingerprint,
                report,
            )
            report("sign", 0, 1)
            sums_sha256 = archive.seal(signer)
            report("sign", 1, 1)
        os.replace(temporary, output)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return ExportSummary(
        output, framework.id, period, sums_sha256, _file_sha256(output), fingerprint, counts
    )


def _write_members(
    archive: SignedZipWriter,
    session: Session,
    library: ControlLibrary,
    framework: Framework,
    period: Period,
    generated_at: datetime,
    version: str,
    fingerprint: str,
    report: Progress,
) -> dict[str, Any]:
    postures = posture(session, library, period.as_of, framework.id)
    archive.add_chunks(
        "controls.csv",
        contents.csv_chunks(contents.CONTROL_HEADER, contents.control_rows(framework, postures)),
    )

    total = contents.evidence_count(session, framework, period)
    written = 0

    def counted(records: Any) -> Any:
        nonlocal written
        for record in records:
            written += 1
            if written % 5000 == 0:
                report("evidence", written, total)
            yield record

    report("evidence", 0, total)
    archive.add_chunks(
        "evidence/records.json",
        contents.json_array_chunks(counted(contents.evidence_records(session, framework, period))),
    )
    report("evidence", written, total)
    artefacts = 0
    for sha256, content in contents.evidence_artefacts(session, framework, period):
        archive.add(f"evidence/artefacts/{sha256}", content)
        artefacts += 1

    report("findings", 0, None)
    archive.add_chunks(
        "findings.csv",
        contents.csv_chunks(contents.FINDING_HEADER, contents.finding_rows(session, period)),
    )
    scans = 0
    for name, sarif in contents.sarif_reports(session, period):
        archive.add(name, sarif)
        scans += 1

    requests = 0
    if framework.id == "gdpr":

        def counted_requests(rows: Any) -> Any:
            nonlocal requests
            for row in rows:
                requests += 1
                yield row

        archive.add_chunks(
            "gdpr/requests.csv",
            contents.csv_chunks(
                contents.DSAR_HEADER, counted_requests(contents.dsar_rows(session, period))
            ),
        )

    report("ledger", 0, None)
    segment = contents.ledger_segment(session, period)
    checkpoints: list[dict[str, Any]] = []
    if segment is not None:
        archive.add_chunks("audit/ledger.jsonl", contents.ledger_entries(session, segment))
        checkpoints = contents.ledger_checkpoints(session, segment)
    archive.add("audit/checkpoints.json", orjson.dumps(checkpoints, option=orjson.OPT_INDENT_2))

    counts: dict[str, Any] = {
        "controls": len(postures),
        "controls_by_status": dict(sorted(Counter(p.status for p in postures).items())),
        "evidence_records": written,
        "artefacts": artefacts,
        "findings": contents.finding_count(session, period),
        "scan_reports": scans,
        "audit_entries_in_period": segment.entries_in_period if segment else 0,
        "audit_segment": [segment.first_seq, segment.last_seq] if segment else None,
        "checkpoints": len(checkpoints),
        "gdpr_requests": requests,
    }
    report("report", 0, 2)
    from compliance.exports.oscal import assessment_results
    from compliance.exports.report import render_html, render_pdf

    listing = [(key.replace("_", " "), str(value)) for key, value in counts.items()]
    html = render_html(
        framework,
        period,
        postures,
        listing,
        generated_at=generated_at,
        version=version,
        fingerprint=fingerprint,
    )
    archive.add("report/report.html", html)
    archive.add("report/report.pdf", render_pdf(html))
    report("report", 2, 2)
    archive.add(
        "oscal/assessment-results.json",
        assessment_results(framework, period, postures, generated_at, version),
    )
    manifest = {
        "format": FORMAT,
        "framework": {"id": framework.id, "name": framework.name, "version": framework.version},
        "period": {"from": _iso(period.start), "to": _iso(period.end), "end": "exclusive"},
        "as_of": _iso(period.as_of),
        "generated_at": _iso(generated_at),
        "generator": {"name": "rampart", "version": version},
        "signing_key_fingerprint": fingerprint,
        "counts": counts,
    }
    archive.add("manifest.json", orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return counts


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_segment_signed(session: Session, signer: Signer, period: Period) -> None:
    """Sign a checkpoint at the ledger's head when no checkpoint covers the period's last entry
    yet, so every exported entry is under a signature (in its own transaction, before the
    export reads)."""
    from sqlalchemy import func, select

    from core.audit.checkpoints import sign_due_checkpoints
    from core.audit.models import AuditCheckpoint, AuditEntry
    from core.settings import get_settings

    last = session.scalar(
        select(func.max(AuditEntry.seq)).where(
            AuditEntry.occurred_at >= period.start, AuditEntry.occurred_at < period.until
        )
    )
    if last is None:
        return
    covered = session.scalar(select(func.max(AuditCheckpoint.seq)))
    if covered is None or covered < last:
        # As `rampart audit sign --force`: the due multiples, then the head itself.
        sign_due_checkpoints(session, signer, get_settings().audit_checkpoint_every, 0.0)
