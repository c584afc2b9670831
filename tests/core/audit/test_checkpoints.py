"""write_checkpoint_if_due: every N entries, at the head after T seconds, never over a tampered
chain."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.audit.checkpoints import write_checkpoint_if_due
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
