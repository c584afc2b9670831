"""The data-key registry on SQLite and PostgreSQL, with the local key file and real OpenBao:
create, load (cached, bounded), destroy, rotate + rewrap, audit entries without key material."""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core.audit.models import AuditEntry
from core.clock import utcnow
from core.database import unit_of_work
from core.errors import NotFound, ValidationFailed
from core.ids import uuid7
from core.kms import repository, service
from core.kms.base import WrappedKey
from core.kms.exceptions import DataKeyDestroyed, KeyUnwrapFailed, KmsMisconfigured
from core.kms.models import DataKey
from core.kms.provider import get_data_key_cache, get_key_provider, reset_key_provider
from core.settings import get_settings
from tests.core.kms.conftest import count_data_keys


def _audit(sessions: sessionmaker[Session], event_type: str) -> list[AuditEntry]:
    with sessions() as session:
        query = select(AuditEntry).where(AuditEntry.event_type == event_type)
        return list(session.execute(query.order_by(AuditEntry.seq)).scalars())


def test_create_and_load_round_trip(kms: str, sessions: sessionmaker[Session]) -> None:
    with unit_of_work(sessions) as session:
        key_id, key = service.create_data_key(session, "vault:pan")
    assert len(key) == 32
    with sessions() as session:
        row = session.get(DataKey, key_id)
        assert row is not None
        assert (row.purpose, row.provider, row.kek_version) == ("vault:pan", kms, 1)
        assert row.wrapped is not None and key not in row.wrapped
    reset_key_provider()  # a fresh process: nothing cached, the KMS unwraps
    with sessions() as session:
        assert service.load_data_key(session, key_id) == key
    assert key_id in get_data_key_cache()
    [entry] = _audit(sessions, "kms.data_keys.created")
    assert entry.resource == f"data_key:{key_id}"
    assert key.hex() not in entry.details and json.loads(entry.details)["count"] == 1


def test_batch_create_writes_one_audit_entry(kms: str, sessions: sessionmaker[Session]) -> None:
    with unit_of_work(sessions) as session:
        keys = service.create_data_keys(session, "subject", 25)
    assert len({k for _, k in keys}) == 25
    assert count_data_keys(sessions) == 25
    [entry] = _audit(sessions, "kms.data_keys.created")
    assert json.loads(entry.details)["count"] == 25
    with sessions() as session:
        for key_id, key in keys[:3]:
            assert service.load_data_key(session, key_id) == key


def test_unknown_key_and_bad_purpose(kms: str, sessions: sessionmaker[Session]) -> None:
    with sessions() as session, pytest.raises(NotFound):
        service.load_data_key(session, uuid7())
    with sessions() as session, pytest.raises(ValidationFailed):
        service.create_data_key(session, "")


def test_wrapped_key_moved_to_another_row_does_not_unwrap(
    kms: str, sessions: sessionmaker[Session]
) -> None:
    with unit_of_work(sessions) as session:
        (a, _), (b, _) = service.create_data_keys(session, "subject", 2)
    with unit_of_work(sessions) as session:
        wrapped_a = session.get_one(DataKey, a).wrapped
        session.execute(update(DataKey).where(DataKey.id == b).values(wrapped=wrapped_a))
    reset_key_provider()
    with sessions() as session, pytest.raises(KeyUnwrapFailed):
        service.load_data_key(session, b)


def test_destroy_shreds_the_key(kms: str, sessions: sessionmaker[Session]) -> None:
    with unit_of_work(sessions) as session:
        key_id, key = service.create_data_key(session, "subject:42")
    with sessions() as session:
        assert service.load_data_key(session, key_id) == key  # now cached
    with unit_of_work(sessions) as session:
        service.destroy_data_key(session, key_id)
    assert key_id not in get_data_key_cache()
    with sessions() as session:
        row = session.get_one(DataKey, key_id)
        assert row.wrapped is None and row.destroyed_at is not None
        with pytest.raises(DataKeyDestroyed) as caught:
            service.load_data_key(session, key_id)
        assert caught.value.status == 410
    with unit_of_work(sessions) as session:
        service.destroy_data_key(session, key_id)  # idempotent
    [entry] = _audit(sessions, "kms.data_key.destroyed")
    assert entry.resource == f"data_key:{key_id}"


def test_cache_respects_its_size_limit(
    kms: str, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAMPART_KEY_CACHE_SIZE", "3")
    get_settings.cache_clear()
    reset_key_provider()
    with unit_of_work(sessions) as session:
        keys = service.create_data_keys(session, "subject", 8)
    with sessions() as session:
        for key_id, key in keys:
            assert service.load_data_key(session, key_id) == key
    cache = get_data_key_cache()
    assert cache.max_size == 3 and len(cache) == 3
    assert [key_id in cache for key_id, _ in keys] == [False] * 5 + [True] * 3


def test_rotate_then_rewrap_moves_every_live_key(kms: str, sessions: sessionmaker[Session]) -> None:
    with unit_of_work(sessions) as session:
        keys = service.create_data_keys(session, "subject", 7)
        service.destroy_data_key(session, keys[0][0])
    with unit_of_work(sessions) as session:
        kek = service.rotate_key_encryption_key(session)
    assert kek.latest_version == 2
    with unit_of_work(sessions) as session:
        fresh_id, fresh_key = service.create_data_key(session, "subject")
        assert service.data_key_counts(session) == ({1: 6, 2: 1}, 1)
        assert service.count_data_keys_to_rewrap(session) == 6
    progress: list[tuple[int, int]] = []
    with unit_of_work(sessions) as session:
        done = service.rewrap_data_keys(
            session, batch_size=4, on_progress=lambda d, t: progress.append((d, t))
        )
    assert done == 6
    assert progress == [(4, 6), (6, 6)]
    reset_key_provider()
    with sessions() as session:
        assert service.data_key_counts(session) == ({2: 7}, 1)
        for key_id, key in [*keys[1:], (fresh_id, fresh_key)]:
            assert service.load_data_key(session, key_id) == key
        destroyed = session.get_one(DataKey, keys[0][0])
        assert destroyed.wrapped is None and destroyed.kek_version == 1
        assert session.get_one(DataKey, keys[1][0]).rotated_at is not None
    [rotated] = _audit(sessions, "kms.kek.rotated")
    assert json.loads(rotated.details)["to_version"] == 2
    [rewrapped] = _audit(sessions, "kms.data_keys.rewrapped")
    assert json.loads(rewrapped.details)["count"] == 6


def test_rewrap_never_resurrects_a_key_destroyed_meanwhile(
    kms: str, sessions: sessionmaker[Session]
) -> None:
    with unit_of_work(sessions) as session:
        key_id, _ = service.create_data_key(session, "subject")
        service.rotate_key_encryption_key(session)
    # A rewrap read the row and got the new ciphertext from the KMS...
    with sessions() as session:
        row = session.get_one(DataKey, key_id)
        assert row.wrapped is not None
        in_flight = get_key_provider().rewrap(
            WrappedKey(row.wrapped, row.kek_version),
            context=service.data_key_context(key_id, row.purpose),
        )
    # ...then the key was shredded before the rewrap wrote its result.
    with unit_of_work(sessions) as session:
        service.destroy_data_key(session, key_id)
    with unit_of_work(sessions) as session:
        stored = repository.replace_wrapped(
            session,
            key_id,
            expected_version=1,
            wrapped=in_flight.ciphertext,
            kek_version=in_flight.kek_version,
            rotated_at=utcnow(),
        )
    assert stored is False
    with sessions() as session:
        assert session.get_one(DataKey, key_id).wrapped is None
        assert service.rewrap_data_keys(session) == 0


def test_health_and_signing_fingerprint(kms: str) -> None:
    health = service.kms_health()
    assert health.ok and health.provider == kms and health.detail is None
    fingerprint = service.signing_key_fingerprint()
    assert len(fingerprint) == 64
    assert fingerprint == service.signing_key_fingerprint(get_key_provider().public_signing_key())


def test_reads_continue_while_rewrap_runs_batch_by_batch(
    kms: str, sessions: sessionmaker[Session]
) -> None:
    with unit_of_work(sessions) as session:
        keys = service.create_data_keys(session, "subject", 200)
        latest = service.rotate_key_encryption_key(session).latest_version
    stop, reads, errors = threading.Event(), [0], []

    def read_forever() -> None:
        while not stop.is_set():
            key_id, key = keys[reads[0] % len(keys)]
            get_data_key_cache().evict(key_id)  # force a KMS unwrap every time
            try:
                with sessions() as session:
                    assert service.load_data_key(session, key_id) == key
                reads[0] += 1
            except Exception as exc:  # collected, asserted below
                errors.append(exc)
                return

    reader = threading.Thread(target=read_forever)
    reader.start()
    try:
        after, done, batches = None, 0, 0
        while True:
            with unit_of_work(sessions) as session:
                batch = service.rewrap_data_key_batch(
                    session, below_version=latest, after=after, batch_size=20
                )
            if batch.last_id is None:
                break
            done, after, batches = done + batch.rewrapped, batch.last_id, batches + 1
            if batches == 5:
                # Half the keys under each version: readers must get through right now. (On
                # SQLite every transaction takes the write lock, so a tight loop can starve
                # them; waiting here makes the interleaving certain rather than likely.)
                seen = reads[0]
                deadline = time.monotonic() + 10
                while reads[0] < seen + 5 and not errors and time.monotonic() < deadline:
                    time.sleep(0.01)
        reads_during_rewrap = reads[0]
    finally:
        stop.set()
        reader.join(timeout=30)
    assert errors == []
    assert (done, batches) == (200, 10)
    assert reads_during_rewrap >= 5
    with sessions() as session:
        assert service.data_key_counts(session) == ({latest: 200}, 0)


def test_a_key_from_another_provider_is_a_clear_error(
    kms: str, sessions: sessionmaker[Session]
) -> None:
    with unit_of_work(sessions) as session:
        key_id, _ = service.create_data_key(session, "subject")
        other = "vault" if kms == "local" else "local"
        session.execute(update(DataKey).where(DataKey.id == key_id).values(provider=other))
    reset_key_provider()
    with sessions() as session, pytest.raises(KmsMisconfigured, match=f"'{other}' KMS"):
        service.load_data_key(session, key_id)
