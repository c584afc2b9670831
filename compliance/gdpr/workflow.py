"""Processing a request: run every connector that supports its type and has not answered
done/not_applicable yet, committing each outcome on its own (a crash resumes where it stopped),
then build the package, sign the certificate, complete and notify the subject.

``process_request`` is a boundary (the job or the CLI calls it): it opens its own units of work."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from compliance.gdpr.certificate import sign_certificate
from compliance.gdpr.completion_evidence import record_completion_evidence
from compliance.gdpr.connectors import registry
from compliance.gdpr.connectors.base import (
    ConnectorOutcome,
    ConnectorRequest,
    ProcessingInfo,
    SubjectRef,
)
from compliance.gdpr.models import DsarOutcome
from compliance.gdpr.package import SystemPart, build_package, info_from_json, info_to_json
from compliance.gdpr.service import get_request, requests_of_subject, store_package, transition
from compliance.gdpr.states import OPEN_STATES
from core.clock import utcnow
from core.database import unit_of_work
from core.kms.provider import get_key_provider
from core.kms.service import create_data_key, destroy_data_key, load_data_key
from core.mail import Mail, send_mail

FINAL = frozenset({"done", "not_applicable"})
DATASETS_KEY_PURPOSE = "gdpr.datasets"


def _save(session: Session, request_id: UUID, outcome: ConnectorOutcome) -> None:
    row = session.get(DsarOutcome, (request_id, outcome.connector))
    if row is None:
        row = DsarOutcome(request_id=request_id, connector=outcome.connector, attempts=0)
        session.add(row)
    row.status, row.rows, row.method = outcome.status, outcome.rows_affected, outcome.method
    row.holds = json.dumps(
        [
            {"what": h.what, "legal_basis": h.legal_basis, "retention": h.retention}
            for h in outcome.holds
        ]
    )
    info = _info_of(outcome)
    row.info = info_to_json(info) if info is not None else None
    row.detail, row.attempts, row.updated_at = outcome.detail, row.attempts + 1, utcnow()
    if outcome.datasets:
        _seal_datasets(session, row, outcome)


def _info_of(outcome: ConnectorOutcome) -> ProcessingInfo | None:
    """The system's Art. 15(1) information, its categories completed with those its datasets
    name (a connector may tag a dataset with a category its summary leaves out)."""
    tagged = [c for ds in outcome.datasets for c in ds.categories]
    info = outcome.info
    if info is None and not tagged:
        return None
    if info is None:
        info = ProcessingInfo(purposes=(), categories=(), recipients=(), retention="", source="")
    categories = tuple(dict.fromkeys([*info.categories, *tagged]))
    return ProcessingInfo(info.purposes, categories, info.recipients, info.retention, info.source)


def _aad(row: DsarOutcome) -> bytes:
    return f"{row.request_id}|{row.connector}".encode()


def _seal_datasets(session: Session, row: DsarOutcome, outcome: ConnectorOutcome) -> None:
    """Keep the answer's datasets, sealed, until every connector has answered: a request that
    completes on a later run still packages what the earlier runs collected."""
    if row.datasets_key_id is not None:
        destroy_data_key(session, row.datasets_key_id)
    plain = json.dumps(
        {ds.name: [dict(r) for r in ds.records] for ds in outcome.datasets}, default=str
    ).encode()
    key_id, key = create_data_key(session, DATASETS_KEY_PURPOSE)
    nonce = os.urandom(12)
    row.datasets_key_id = key_id
    row.datasets_sealed = nonce + AESGCM(key).encrypt(nonce, plain, _aad(row))


def _released_datasets(
    session: Session, outcomes: Sequence[DsarOutcome]
) -> Iterator[tuple[str, str, list[Mapping[str, Any]], tuple[str, ...]]]:
    """Each outcome's datasets, one system at a time; its key destroyed and the sealed bytes
    dropped once read (the package holds them now)."""
    for row in outcomes:
        if row.datasets_key_id is None or row.datasets_sealed is None:
            continue
        key = load_data_key(session, row.datasets_key_id)
        nonce, body = row.datasets_sealed[:12], row.datasets_sealed[12:]
        sealed: dict[str, list[Mapping[str, Any]]] = json.loads(
            AESGCM(key).decrypt(nonce, body, _aad(row))
        )
        destroy_data_key(session, row.datasets_key_id)
        row.datasets_key_id, row.datasets_sealed = None, None
        for name in sorted(sealed):
            yield row.connector, name, sealed.pop(name), ()


def process_request(
    request_id: UUID,
    *,
    factory: sessionmaker[Session] | None = None,
    actor: str = "system:gdpr",
) -> str:
    """Run what is left; returns the request's state afterwards. The boundary of its own work,
    like ``scanners.runner.execute_scan``: each connector's outcome is committed in its own
    unit of work, so a crash resumes after the last connector that answered."""
    with unit_of_work(factory) as session:
        request = get_request(session, request_id)
        if request.state != "in_progress":
            return request.state
        ask = ConnectorRequest(
            request_id=request.id,
            type=request.type,  # type: ignore[arg-type]
            subject=SubjectRef(request.subject, request.email),
            changes=json.loads(request.changes) if request.changes else {},
            purposes=tuple(json.loads(request.purposes)),
        )
        names = [c.name for c in registry.connectors_for(session) if c.supports(ask.type)]
    for name in names:
        with unit_of_work(factory) as session:
            done = session.get(DsarOutcome, (request_id, name))
            if done is not None and done.status in FINAL:
                continue
            connector = next(c for c in registry.connectors_for(session) if c.name == name)
            _save(session, request_id, connector.fulfil(session, ask))
    with unit_of_work(factory) as session:
        return _complete_when_all_answered(session, request_id, actor)


def _system_part(row: DsarOutcome) -> SystemPart:
    return SystemPart(
        connector=row.connector,
        status=row.status,
        rows=row.rows,
        method=row.method,
        holds=json.loads(row.holds),
        info=info_from_json(row.info),
    )


def _complete_when_all_answered(session: Session, request_id: UUID, actor: str) -> str:
    request = get_request(session, request_id)
    outcomes = session.scalars(
        select(DsarOutcome).where(DsarOutcome.request_id == request.id)
    ).all()
    if any(o.status not in FINAL for o in outcomes):
        return request.state
    outcomes = sorted(outcomes, key=lambda o: o.connector)
    datasets = _released_datasets(session, outcomes)
    if request.type in ("access", "portability"):
        built = build_package(
            request_id=request.id,
            request_type=request.type,
            generated_at=utcnow(),
            systems=[_system_part(o) for o in outcomes],
            datasets=datasets,
        )
        with built.content:
            store_package(session, request, f"dsar-{request.id}.zip", built.content.read())
    else:
        for _ in datasets:  # none expected; keys are destroyed all the same
            pass
    request.completed_at = utcnow()
    request.changes = None
    signer = get_key_provider()
    certificate = sign_certificate(session, signer, request, outcomes)
    transition(session, request, "completed", actor=actor, verb="completed")
    record_completion_evidence(session, signer, request, outcomes, certificate)
    if request.email:
        # Inside the unit of work: a mail server that is down rolls the completion back, and
        # the next run completes it and tells the subject.
        send_mail(
            Mail(
                to=request.email,
                subject="Your data protection request is complete",
                body="Log into the privacy portal to see the result and certificate.\n",
            )
        )
    if request.type == "erasure":
        _forget_address(session, request.subject)
    return request.state


def _forget_address(session: Session, subject: str) -> None:
    """After an erasure's notice went out, the subject's address leaves every closed request:
    the requests themselves stay (with the subject id) as the proof Art. 5(2) asks for."""
    for closed in requests_of_subject(session, subject):
        if closed.state not in OPEN_STATES:
            closed.email = None
