"""Expiry purge (tokens and spent SAD keys), the purge job's declaration, stats, and reads and
writes that keep working while the key-encryption key rotates and data keys are rewrapped."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import utcnow
from core.database import unit_of_work
from core.jobs.registry import get_job, get_schedule
from core.kms.models import DataKey
from core.kms.provider import get_data_key_cache, get_key_provider, reset_key_provider
from core.kms.service import rewrap_data_keys, rotate_key_encryption_key
from core.settings import Settings
from tests.vault.conftest import TEST_TENANT
from vault import access, service
from vault.keys import forget_cached_scopes
from vault.lifecycle import purge_expired, vault_stats
from vault.models import VaultKey, VaultToken
from vault.records import Detokenized, TokenizeRequest, TokenRecord


def _tokenize(sessions: sessionmaker[Session], kind: str, values: list[str]) -> list[TokenRecord]:
    with unit_of_work(sessions) as session:
        out = service.tokenize_batch(
            session,
            tenant=TEST_TENANT,
            token_type=kind,
            items=[TokenizeRequest(v) for v in values],
        )
    assert all(isinstance(o, TokenRecord) for o in out), out
    return out  # type: ignore[return-value]


def test_purge_deletes_expired_and_destroys_spent_sad_keys(
    local_kms: Settings, sessions: sessionmaker[Session]
) -> None:
    (cvc,) = _tokenize(sessions, "cvc", ["123"])
    (card,) = _tokenize(sessions, "pan", ["4111111111111111"])
    with unit_of_work(sessions) as session:
        report = purge_expired(session, utcnow())
    assert report.tokens_deleted == 0 and report.sad_keys_destroyed == 0

    later = utcnow() + timedelta(hours=3)  # SAD expired and its key period long over
    with unit_of_work(sessions) as session:
        stats = vault_stats(session, later, tenant=TEST_TENANT)
        assert stats.expired_awaiting_purge == 1 and stats.tokens_by_type == {"cvc": 1, "pan": 1}
        report = purge_expired(session, later)
    assert (report.tokens_deleted, report.sad_keys_destroyed) == (1, 1)
    with sessions() as session:
        remaining = session.execute(select(VaultToken.id)).scalars().all()
        assert remaining == [card.id] and cvc.id not in remaining
        assert (
            session.execute(
                select(func.count()).select_from(VaultKey).where(VaultKey.scope.like("sad:%"))
            ).scalar_one()
            == 0
        )
        destroyed = session.execute(
            select(func.count()).select_from(DataKey).where(DataKey.purpose == "vault.sad")
        ).scalar_one()
        assert destroyed == 1


def test_purge_job_is_declared_on_the_scheduler() -> None:
    import vault.jobs  # noqa: F401 - importing declares the job and its schedule

    assert get_job("vault.purge_expired").security_relevant
    declared = get_schedule("vault.purge_expired")
    assert declared is not None and declared.timing.every == timedelta(minutes=5)


def test_reads_and_writes_keep_working_during_rotation_and_rewrap(
    local_kms: Settings, sessions: sessionmaker[Session]
) -> None:
    existing = _tokenize(sessions, "pan", ["4111111111111111", "5555555555554444"])
    old_version = get_key_provider().info().latest_version
    errors: list[BaseException] = []
    done = threading.Event()
    written: list[TokenRecord] = []

    def traffic() -> None:
        try:
            while not done.is_set():
                forget_cached_scopes()
                get_data_key_cache().clear()  # unwrap through the KMS mid-rotation
                written.extend(_tokenize(sessions, "email", ["r@example.com"]))
                with unit_of_work(sessions) as session:
                    values = access.detokenize_batch(
                        session,
                        tenant=TEST_TENANT,
                        token_type="pan",
                        tokens=[r.token for r in existing],
                        purpose="rotation.test",
                    )
                assert all(isinstance(v, Detokenized) for v in values), values
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=traffic)
    worker.start()
    with unit_of_work(sessions) as session:
        info = rotate_key_encryption_key(session)
    assert info.latest_version == old_version + 1
    with unit_of_work(sessions) as session:
        rewrapped = rewrap_data_keys(session, batch_size=2)
    done.set()
    worker.join(timeout=60)
    assert errors == [] and written and rewrapped >= 2

    reset_key_provider()  # a fresh process: every key unwrapped again, from rewrapped rows
    with sessions() as session:
        versions = set(session.execute(select(DataKey.kek_version)).scalars())
        assert versions == {old_version + 1}
        values = access.detokenize_batch(
            session,
            tenant=TEST_TENANT,
            token_type="pan",
            tokens=[r.token for r in existing],
            purpose="rotation.test",
        )
    assert [v.value for v in values if isinstance(v, Detokenized)] == [
        "4111111111111111",
        "5555555555554444",
    ]
