"""write_checkpoint_if_due: every N entries, at the head after T seconds, never over a tampered
chain."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.audit.checkpoints import sign_due_checkpoints, write_checkpoint_if_due
from core.audit.exceptions import AuditChainBroken
from core.audit.models import AuditCheckpoint
from core.audit.signing import key_fingerprint
from core.audit.verification import verify
from core.clock import utcnow
from core.database import unit_of_work
from tests.core.audit.conftest import Ed25519Signer, append_events, count_rows, tamper


def _checkpoint_seqs(sessions: sessionmaker[Session]) -> list[int]:
    with sessions() as session:
        return list(session.scalars(select(AuditCheckpoint.seq).order_by(AuditCheckpoint.seq)))


def test_a_checkpoint_every_n_entries_then_at_the_head_when_time_passes(
    sessions: sessionmaker[Session], signer: Ed25519Signer
) -> None:
    append_events(sessions, 25)
    with unit_of_work(sessions) as session:
        written = write_checkpoint_if_due(session, signer, 10, 300)
        assert [cp.seq for cp in written] == [10, 20]
        assert write_checkpoint_if_due(session, signer, 10, 300) == []
    later = utcnow() + timedelta(seconds=301)
    with unit_of_work(sessions) as session:
        written = write_checkpoint_if_due(session, signer, 10, 300, now=later)
        assert [cp.seq for cp in written] == [25]
        assert written[0].key_fingerprint == key_fingerprint(signer.public_signing_key())
    append_events(sessions, 5)
    with unit_of_work(sessions) as session:
        assert [cp.seq for cp in write_checkpoint_if_due(session, signer, 10, 300)] == [30]
    assert _checkpoint_seqs(sessions) == [10, 20, 25, 30]
    with sessions() as session:
        result = verify(session, [signer.public_signing_key()])
    assert (result.ok, result.count, result.checkpoints_verified) == (True, 30, 4)


def test_nothing_is_due_before_n_entries_or_t_seconds(
    sessions: sessionmaker[Session], signer: Ed25519Signer
) -> None:
    with unit_of_work(sessions) as session:
        assert write_checkpoint_if_due(session, signer, 10, 300) == []
    append_events(sessions, 3)
    with unit_of_work(sessions) as session:
        assert write_checkpoint_if_due(session, signer, 10, 300) == []
        soon = utcnow() + timedelta(seconds=301)
        assert [cp.seq for cp in write_checkpoint_if_due(session, signer, 10, 300, now=soon)] == [3]


def test_a_tampered_chain_is_never_signed(
    engine: Engine, sessions: sessionmaker[Session], signer: Ed25519Signer
) -> None:
    append_events(sessions, 10)
    with unit_of_work(sessions) as session:
        write_checkpoint_if_due(session, signer, 10, 300)
    append_events(sessions, 10)
    tamper(engine, "UPDATE audit_entries SET resource = 'order:forged' WHERE seq = 14")
    with (
        pytest.raises(AuditChainBroken, match="at seq 14: changed"),
        unit_of_work(sessions) as session,
    ):
        write_checkpoint_if_due(session, signer, 10, 300)
    assert _checkpoint_seqs(sessions) == [10]


def test_checkpoints_signed_by_the_local_key_provider_verify(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    from core.kms.local import LocalKeyProvider

    provider = LocalKeyProvider(tmp_path / "keys.json")
    provider.ensure_keys()
    append_events(sessions, 4)
    with unit_of_work(sessions) as session:
        assert len(write_checkpoint_if_due(session, provider, 2, 300)) == 2
    with sessions() as session:
        result = verify(session, [provider.public_signing_key()])
    assert (result.ok, result.checkpoints_verified) == (True, 2)
    assert count_rows(sessions, AuditCheckpoint) == 2


class _CountingSigner(Ed25519Signer):
    def __init__(self) -> None:
        super().__init__()
        self.signed = 0

    def sign(self, message: bytes) -> bytes:
        self.signed += 1
        return super().sign(message)


def test_appenders_go_on_while_the_entries_are_verified(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job verifies in a snapshot: an audited write in the meantime neither waits for it nor
    gets signed by it, and each due checkpoint is signed once, before the lock."""
    from core.audit import checkpoints, verification

    signer = _CountingSigner()
    append_events(sessions, 25)
    verifying, appended = threading.Event(), threading.Event()
    real_verify = verification.verify_segment

    def slow_verify(*args: Any, **kwargs: Any) -> Any:
        verifying.set()
        assert appended.wait(10), "an append waited for the verification"
        return real_verify(*args, **kwargs)

    monkeypatch.setattr(checkpoints, "verify_segment", slow_verify)
    signed: list[list[int]] = []
    later = utcnow() + timedelta(seconds=301)

    def job() -> None:
        with unit_of_work(sessions) as session:
            written = sign_due_checkpoints(session, signer, 10, 300, now=later)
            signed.append([cp.seq for cp in written])

    worker = threading.Thread(target=job)
    worker.start()
    assert verifying.wait(10)
    append_events(sessions, 1)  # while the job verifies: must not wait for it
    appended.set()
    worker.join(10)
    assert signed == [[10, 20, 25]]  # up to what was verified; seq 26 is the next one's
    assert signer.signed == 3
    with sessions() as session:
        result = verify(session, [signer.public_signing_key()])
    assert (result.ok, result.count, result.checkpoints_verified) == (True, 26, 3)


def test_an_entry_changed_between_verifying_and_signing_is_never_signed(
    engine: Engine,
    sessions: sessionmaker[Session],
    signer: Ed25519Signer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from core.audit import checkpoints

    append_events(sessions, 12)
    real_verify = checkpoints.verify_unsigned

    def verify_then_tamper(session: Session) -> Any:
        verified = real_verify(session)
        tamper(engine, "UPDATE audit_entries SET hash = :h WHERE seq = 12", h="0" * 64)
        return verified

    monkeypatch.setattr(checkpoints, "verify_unsigned", verify_then_tamper)
    with (
        pytest.raises(AuditChainBroken, match="entry 12 changed after it was verified"),
        unit_of_work(sessions) as session,
    ):
        sign_due_checkpoints(session, signer, 10, 300)
    assert _checkpoint_seqs(sessions) == []


def test_a_checkpoint_signed_meanwhile_by_another_is_not_signed_twice(
    sessions: sessionmaker[Session], signer: Ed25519Signer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.audit import checkpoints

    append_events(sessions, 20)
    real_verify = checkpoints.verify_unsigned

    def verify_then_race(session: Session) -> Any:
        verified = real_verify(session)
        with unit_of_work(sessions) as other:  # another process signs first
            write_checkpoint_if_due(other, signer, 10, 300)
        return verified

    monkeypatch.setattr(checkpoints, "verify_unsigned", verify_then_race)
    with unit_of_work(sessions) as session:
        assert sign_due_checkpoints(session, signer, 10, 300) == []
    assert _checkpoint_seqs(sessions) == [10, 20]
