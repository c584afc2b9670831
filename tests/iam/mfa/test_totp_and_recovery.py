"""TOTP: nothing stored before confirmation, ±1 step window, no reuse; recovery codes: single
use, stored as keyed hashes; reset removes every factor."""

from __future__ import annotations

import time

import pyotp
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from iam.accounts.models import User
from iam.mfa import recovery, totp
from iam.mfa.exceptions import EnrolmentExpired, InvalidCode
from iam.mfa.models import RecoveryCode, TotpCredential
from iam.mfa.service import mfa_methods, reset_mfa
from tests.iam.accounts.support import make_user


def _enrolled(db: Session) -> tuple[User, str]:
    user = make_user(db)
    session_id = user.id  # any UUID binds the sealed enrolment
    enrolment = totp.begin_enrolment(db, user, session_id)
    assert db.get(TotpCredential, user.id) is None
    totp.confirm_enrolment(
        db, user, session_id, enrolment.sealed, pyotp.TOTP(enrolment.secret).now()
    )
    return user, enrolment.secret


def test_enrolment_stores_the_secret_encrypted_only_after_a_right_code(db: Session) -> None:
    user = make_user(db)
    enrolment = totp.begin_enrolment(db, user, user.id)
    assert enrolment.qr_data_uri.startswith("data:image/svg+xml")
    assert enrolment.provisioning_uri.startswith("otpauth://totp/")
    with pytest.raises(InvalidCode):
        totp.confirm_enrolment(db, user, user.id, enrolment.sealed, "000000")
    assert db.get(TotpCredential, user.id) is None
    other = make_user(db, "bob@example.com")
    with pytest.raises(EnrolmentExpired):  # a sealed enrolment cannot move to another user
        totp.confirm_enrolment(
            db, other, user.id, enrolment.sealed, pyotp.TOTP(enrolment.secret).now()
        )
    totp.confirm_enrolment(db, user, user.id, enrolment.sealed, pyotp.TOTP(enrolment.secret).now())
    stored = db.get(TotpCredential, user.id)
    assert stored is not None and enrolment.secret.encode() not in stored.secret_ciphertext


def test_window_and_reuse(db: Session) -> None:
    user, secret = _enrolled(db)
    otp = pyotp.TOTP(secret)
    now = int(time.time())
    assert not totp.verify_totp(db, user.id, otp.now())  # spent by the enrolment
    assert not totp.verify_totp(db, user.id, otp.at(now + 90))  # outside the window
    assert totp.verify_totp(db, user.id, otp.at(now + 30))  # next step: inside ±1
    assert not totp.verify_totp(db, user.id, otp.at(now + 30))  # reuse refused
    assert not totp.verify_totp(db, user.id, otp.at(now - 30))  # older steps are spent too
    assert not totp.verify_totp(db, user.id, "abcdef")


def test_recovery_codes_are_single_use_and_hashed(db: Session) -> None:
    user = make_user(db)
    codes = recovery.generate_recovery_codes(db, user.id)
    assert len(codes) == 10 and len(set(codes)) == 10
    hashes = {row.code_hash for row in db.scalars(select(RecoveryCode))}
    assert not hashes & set(codes)
    assert recovery.use_recovery_code(db, user.id, codes[0].upper().replace("-", " "))
    assert not recovery.use_recovery_code(db, user.id, codes[0])
    assert recovery.remaining_recovery_codes(db, user.id) == 9
    assert not recovery.use_recovery_code(db, user.id, "aaaa-bbbb-cccc-dddd")
    regenerated = recovery.generate_recovery_codes(db, user.id)
    assert not recovery.use_recovery_code(db, user.id, codes[1])  # old set replaced
    assert recovery.use_recovery_code(db, user.id, regenerated[1])


def test_reset_removes_every_factor(db: Session) -> None:
    user, _ = _enrolled(db)
    recovery.generate_recovery_codes(db, user.id)
    assert mfa_methods(db, user.id) == ["totp"]
    assert reset_mfa(db, user.id) == 1
    assert mfa_methods(db, user.id) == []
    assert recovery.remaining_recovery_codes(db, user.id) == 0
