"""Users and roles: idempotent create-or-update, password history, disable, first admin, audit."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.models import AuditEntry
from iam.accounts import service
from iam.accounts.exceptions import InvalidEmail, PasswordRejected
from iam.accounts.models import PasswordHistory
from iam.accounts.passwords import verify_password
from tests.iam.accounts.support import OTHER_PASSWORD, PASSWORD, make_user


def _events(db: Session, event_type: str) -> list[AuditEntry]:
    return list(db.scalars(select(AuditEntry).where(AuditEntry.event_type == event_type)))


def test_create_user_is_idempotent_and_normalizes_email(db: Session) -> None:
    user, created = service.create_user(db, "  Alice@Example.COM ", password=PASSWORD)
    again, created_again = service.create_user(db, "alice@example.com", password=PASSWORD)
    db.commit()
    assert created and not created_again
    assert again.id == user.id and user.email == "alice@example.com"
    assert len(_events(db, "iam.user.created")) == 1
    assert len(_events(db, "iam.user.password_set")) == 1  # same password: left alone


def test_password_is_stored_as_argon2id_at_owasp_cost(db: Session) -> None:
    user = make_user(db)
    assert user.password_hash is not None
    assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password(user.password_hash, PASSWORD)


def test_refused_password_creates_nothing(db: Session) -> None:
    with pytest.raises(PasswordRejected) as caught:
        service.create_user(db, "bob@example.com", password="password1234")
    db.rollback()
    assert service.get_user_by_email(db, "bob@example.com") is None
    assert "common" in caught.value.detail


def test_invalid_email_is_refused(db: Session) -> None:
    with pytest.raises(InvalidEmail):
        service.create_user(db, "not an email", password=PASSWORD)


def test_none_of_the_last_four_passwords_may_return(db: Session) -> None:
    user = make_user(db)
    history = [PASSWORD, OTHER_PASSWORD, "third secret 3 words", "fourth secret 4 words"]
    for password in history[1:]:
        service.set_password(db, user, password)
    for old in history:
        with pytest.raises(PasswordRejected):
            service.set_password(db, user, old)
    service.set_password(db, user, "fifth secret 5 words")
    # The oldest fell out of the window of four and may be used again.
    service.set_password(db, user, PASSWORD)
    db.commit()
    rows = db.scalars(select(PasswordHistory).where(PasswordHistory.user_id == user.id)).all()
    assert len(rows) == 4


def test_roles_and_first_admin(db: Session) -> None:
    admin, created = service.ensure_first_admin(db, "root@example.com", PASSWORD)
    again, created_again = service.ensure_first_admin(db, "other@example.com", OTHER_PASSWORD)
    db.commit()
    assert created and not created_again and again.id == admin.id
    assert admin.roles == ["admin"] and admin.email_verified
    assert service.roles_require_mfa(admin)
    assert service.get_user_by_email(db, "other@example.com") is None


def test_unknown_role_is_refused_and_custom_roles_work(db: Session) -> None:
    from core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        service.create_user(db, "carol@example.com", roles=["wizard"])
    db.rollback()
    service.ensure_role(db, "support", requires_mfa=True, description="Support desk")
    user, _ = service.create_user(db, "carol@example.com", roles=["support", "staff"])
    db.commit()
    loaded = service.get_user(db, user.id)
    assert loaded is not None and loaded.roles == ["staff", "support"]
    assert service.roles_require_mfa(loaded)


def test_disable_user_is_audited_without_secrets(db: Session) -> None:
    user = make_user(db)
    assert service.disable_user(db, user, reason="left the company")
    assert not service.disable_user(db, user)
    db.commit()
    (event,) = _events(db, "iam.user.disabled")
    assert json.loads(event.details)["reason"] == "left the company"
    for entry in db.scalars(select(AuditEntry)):
        assert PASSWORD not in entry.details
        assert "$argon2" not in entry.details
