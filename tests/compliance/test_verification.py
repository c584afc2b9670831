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


def test_a_batch_of_evidence_is_chained_in_order_and_verifies(
    deps: EngineDeps, register: Register
) -> None:
    from compliance.evidence import Outcome, record_evidence_many
    from core.audit.models import AuditEntry
    from core.clock import utcnow

    check = _artefact_check(register)
    now = utcnow()
    outcomes = [Outcome(check, check.function(None), now, now) for _ in range(3)]  # type: ignore[arg-type]
    with unit_of_work(deps.sessions) as session:
        records = record_evidence_many(session, deps.signer, outcomes, collector="test")
    seqs = [record.audit_seq for record in records]
    assert seqs == list(range(seqs[0], seqs[0] + 3))
    with unit_of_work(deps.read_sessions, read_only=True) as session:
        entries = [session.get(AuditEntry, seq) for seq in seqs]
        assert [e.details for e in entries if e] == [
            f'{{"check":"tests.with_artefact","controls":["test-fw:1.1"],"evidence_id":"{r.id}",'
            f'"sha256":"{r.digest}","status":"pass"}}'
            for r in records
        ]
        assert session.query(EvidenceArtefact).count() == 3
    assert _verify(deps) == []
