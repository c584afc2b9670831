"""OpenBao stopped mid-test: creating keys fails closed with a 503 and writes nothing, health
turns red, cached keys keep serving, and after a restart (dev mode: empty) keys are re-created."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.audit.models import AuditEntry
from core.database import unit_of_work
from core.errors import KmsUnavailable
from core.kms import service
from core.kms.exceptions import KeyUnwrapFailed
from core.settings import Settings
from tests.core.kms.conftest import count_data_keys, use_vault
from tests.fixtures.openbao import OpenBaoServer


def _audit_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return len(session.execute(select(AuditEntry.seq)).all())


def test_openbao_stopped_mid_test(
    settings: Settings,
    openbao_disposable: OpenBaoServer,
    monkeypatch: pytest.MonkeyPatch,
    sessions: sessionmaker[Session],
) -> None:
    use_vault(monkeypatch, openbao_disposable)
    service.ensure_kms_keys()
    with unit_of_work(sessions) as session:
        hot_id, hot_key = service.create_data_key(session, "subject")
        cold_id, _ = service.create_data_key(session, "subject")
    with sessions() as session:
        assert service.load_data_key(session, hot_id) == hot_key  # cached from now on
    assert service.kms_health().ok
    rows_before, audit_before = count_data_keys(sessions), _audit_count(sessions)

    openbao_disposable.stop()

    with pytest.raises(KmsUnavailable) as caught, unit_of_work(sessions) as session:
        service.create_data_key(session, "subject")
    problem = caught.value.to_problem()
    assert problem["status"] == 503
    assert problem["type"].endswith("/kms-unavailable")
    assert openbao_disposable.addr in problem["detail"]
    assert openbao_disposable.token not in str(problem)
    with pytest.raises(KmsUnavailable), unit_of_work(sessions) as session:
        service.create_data_keys(session, "subject", 10)
    with pytest.raises(KmsUnavailable), unit_of_work(sessions) as session:
        service.rotate_key_encryption_key(session)
    assert count_data_keys(sessions) == rows_before
    assert _audit_count(sessions) == audit_before

    health = service.kms_health()
    assert (health.ok, health.provider) == (False, "vault")
    assert health.detail is not None and openbao_disposable.addr in health.detail
    with sessions() as session:
        # Fail closed for anything not already unwrapped; the bounded cache still serves.
        assert service.load_data_key(session, hot_id) == hot_key
        with pytest.raises(KmsUnavailable):
            service.load_data_key(session, cold_id)

    openbao_disposable.start()  # dev mode starts empty: the old KEK is gone

    assert service.kms_health().ok is False  # no KEK until ensure_keys runs again
    assert len(service.ensure_kms_keys()) == 2
    with unit_of_work(sessions) as session:
        service.create_data_key(session, "subject")
    assert count_data_keys(sessions) == rows_before + 1
    with sessions() as session, pytest.raises(KeyUnwrapFailed):
        service.load_data_key(session, cold_id)
