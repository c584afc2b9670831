"""A changed byte in any evidence row, or a removed row, fails verification."""

from __future__ import annotations

from uuid import UUID

import pytest
from sqlalchemy import delete, event, text
from sqlalchemy.orm import Session

from compliance import verification
from compliance.checks.base import Artefact, CheckResult, RegisteredCheck
from compliance.controls import ControlLibrary
from compliance.engine import EngineDeps, run
from compliance.models import EvidenceArtefact, EvidenceRecord
from compliance.verification import verify_evidence
from core.database import unit_of_work
from tests.compliance.conftest import Register


def _artefact_check(register: Register) -> RegisteredCheck:
    return register(
        "tests.with_artefact",
        lambda ctx: CheckResult.judge(
            True,
            {"protocols": ["TLSv1.3"]},
            {"minimum": "TLSv1.2"},
            artefacts=(Artefact("handshake.txt", "text/plain", b"TLSv1.3 ok"),),
        ),
        ("test-fw:1.1",),
    )


@pytest.fixture
def evidence_id(deps: EngineDeps, library: ControlLibrary, register: Register) -> str:
    (result,) = run(deps, library, checks=[_artefact_check(register)])
    return str(result.evidence_id)


def _verify(deps: EngineDeps) -> list[str]:
    with unit_of_work(deps.read_sessions, read_only=True) as session:
        report = verify_evidence(session, [deps.signer.public_signing_key()])
    assert report.checked >= 0
    return report.problems


def _execute(deps: EngineDeps, statement: str, **params: object) -> None:
    with unit_of_work(deps.sessions) as session:
        session.execute(text(statement), params)


def test_untouched_evidence_verifies(deps: EngineDeps, evidence_id: str) -> None:
    assert _verify(deps) == []


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE compliance_evidence SET observed = replace(observed, '1.3', '1.0')",
        "UPDATE compliance_evidence SET status = 'pasS'",
        "UPDATE compliance_evidence SET check_version = '0000000000000000'",
        "UPDATE compliance_artefacts SET content = :content",
    ],
    ids=["observed", "status", "version", "artefact-bytes"],
)
def test_one_changed_byte_is_reported(deps: EngineDeps, evidence_id: str, statement: str) -> None:
    _execute(deps, statement, content=b"TLSv1.0 ok")
    problems = _verify(deps)
    assert problems and all(evidence_id in problem for problem in problems)


def test_a_forged_signature_is_reported(deps: EngineDeps, evidence_id: str) -> None:
    with unit_of_work(deps.sessions) as session:
        (signature,) = session.execute(text("SELECT signature FROM compliance_evidence")).one()
        forged = bytes([signature[0] ^ 1]) + bytes(signature[1:])
        session.execute(text("UPDATE compliance_evidence SET signature = :s"), {"s": forged})
    expected = f"evidence {evidence_id}: signature does not verify with a trusted key"
    assert _verify(deps) == [expected]


def test_a_deleted_record_is_reported_from_its_ledger_entry(
    deps: EngineDeps, evidence_id: str
) -> None:
    _execute(deps, "DELETE FROM compliance_artefacts")
    _execute(deps, "DELETE FROM compliance_evidence")
    (problem,) = _verify(deps)
    assert evidence_id in problem and "no longer stored" in problem


def test_a_relinked_ledger_entry_is_reported(deps: EngineDeps, evidence_id: str) -> None:
    _execute(deps, "UPDATE compliance_evidence SET audit_seq = 999")
    assert _verify(deps) == [f"evidence {evidence_id}: audit entry 999 does not exist"]


def test_a_large_store_is_verified_one_batch_at_a_time(
    deps: EngineDeps, library: ControlLibrary, register: Register, monkeypatch: pytest.MonkeyPatch
) -> None:
    check = _artefact_check(register)
    ids = [str(run(deps, library, checks=[check])[0].evidence_id) for _ in range(6)]
    monkeypatch.setattr(verification, "_BATCH", 2)
    peak = 0

    def count(session: Session, instance: object) -> None:
        nonlocal peak
        peak = max(peak, len(session.identity_map))

    with unit_of_work(deps.read_sessions, read_only=True) as session:
        event.listen(session, "loaded_as_persistent", count)
        report = verify_evidence(session, [deps.signer.public_signing_key()])
    assert (report.checked, report.problems) == (6, [])
    # A batch: two records, their two artefacts and two ledger entries; never the whole store.
    assert 0 < peak <= 6
    gone = sorted(ids)[3]  # in the second batch of records and of ledger entries
    with unit_of_work(deps.sessions) as session:
        session.execute(delete(EvidenceArtefact).where(EvidenceArtefact.evidence_id == UUID(gone)))
        session.execute(delete(EvidenceRecord).where(EvidenceRecord.id == UUID(gone)))
    (problem,) = _verify(deps)
    assert gone in problem and "no longer stored" in problem
