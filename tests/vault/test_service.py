"""The vault's service functions on SQLite and PostgreSQL with the local KMS: tokenize single and
batch, detokenize, reveal, metadata, delete, expiry, SAD single use, deterministic tokens."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.audit.models import AuditEntry
from core.database import unit_of_work
from core.errors import RampartError
from core.sensitive import luhn_valid
from core.settings import Settings, get_settings
from tests.vault.conftest import TEST_TENANT
from vault import access, service, token_rows
from vault.exceptions import (
    LuhnCheckFailed,
    PurposeInvalid,
    RevealNotAllowed,
    TokenExpired,
    TokenMalformed,
    TokenNotFound,
)
from vault.keys import forget_cached_scopes
from vault.models import VaultToken
from vault.records import Detokenized, Revealed, TokenizeRequest, TokenRecord

PANS = ["4111111111111111", "5555555555554444", "378282246310005"]


def _tokenize(
    sessions: sessionmaker[Session], token_type: str, *values: str, **kwargs: object
) -> list[TokenRecord | RampartError]:
    with unit_of_work(sessions) as session:
        return service.tokenize_batch(
            session,
            tenant=TEST_TENANT,
            token_type=token_type,
            items=[TokenizeRequest(value, **kwargs) for value in values],  # type: ignore[arg-type]
            actor="svc-test",
        )


def _detokenize(
    sessions: sessionmaker[Session], token_type: str, *tokens: str
) -> list[Detokenized | RampartError]:
    with unit_of_work(sessions) as session:
        return access.detokenize_batch(
            session,
            tenant=TEST_TENANT,
            token_type=token_type,
            tokens=list(tokens),
            purpose="payment.capture",
            actor="svc-test",
        )


def _ok(outcomes: Sequence[object]) -> list[TokenRecord]:
    assert all(isinstance(o, TokenRecord) for o in outcomes), outcomes
    return outcomes  # type: ignore[return-value]


def test_pan_batch_roundtrip_keeps_last4_and_fails_luhn(
    local_kms: Settings, sessions: sessionmaker[Session]
) -> None:
    records = _ok(_tokenize(sessions, "pan", *PANS))
    for pan, record in zip(PANS, records, strict=True):
        assert record.token != pan
        assert record.token[-4:] == pan[-4:] and len(record.token) == len(pan)
        assert not luhn_valid(record.token)
        assert record.fingerprint is not None and len(record.fingerprint) == 32
    values = _detokenize(sessions, "pan", *(r.token for r in records))
    assert [v.value for v in values if isinstance(v, Detokenized)] == PANS


def test_bad_items_fail_alone_and_nothing_half_written(
    local_kms: Settings, sessions: sessionmaker[Session]
) -> None:
    outcomes = _tokenize(sessions, "pan", "4111111111111112", PANS[0], "41111x11", "4" * 30)
    assert isinstance(outcomes[0], LuhnCheckFailed)
    assert isinstance(outcomes[1], TokenRecord)
    assert outcomes[2].slug == "vault-value-malformed"  # type: ignore[union-attr]
    assert outcomes[3].slug == "vault-value-length"  # type: ignore[union-attr]
    with sessions() as session:
        assert session.execute(select(func.count()).select_from(VaultToken)).scalar_one() == 1


def test_random_by_default_deterministic_when_configured(
    local_kms: Settings, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = _ok(_tokenize(sessions, "email", "ada@example.com", "ada@example.com"))
    assert first.token != second.token
    assert first.fingerprint == second.fingerprint  # keyed fingerprint still finds duplicates

    monkeypatch.setenv("RAMPART_VAULT_DETERMINISTIC_TYPES", '["email"]')
    get_settings.cache_clear()
    a, b = _ok(_tokenize(sessions, "email", "bob@example.com", "bob@example.com"))
    (c,) = _ok(_tokenize(sessions, "email", "bob@example.com"))
    assert a.token == b.token == c.token and a.created and not c.created
    assert a.token_format == "opaque" and a.token.startswith("tok_eml_")


def test_email_and_phone_formats(local_kms: Settings, sessions: sessionmaker[Session]) -> None:
    (email,) = _ok(_tokenize(sessions, "email", "Ada@Example.COM", format="email_domain"))
    assert email.token.endswith("@example.com") and email.token.startswith("tok_")
    (phone,) = _ok(_tokenize(sessions, "phone", "+44 20 7946 0958", format="phone_country"))
    assert phone.token.startswith("+44") and len(phone.token) == len("+442079460958")
    values = _detokenize(sessions, "email", email.token)
    assert isinstance(values[0], Detokenized) and values[0].value == "Ada@example.com"


def test_too_small_token_space_refused(
    local_kms: Settings, sessions: sessionmaker[Session]
) -> None:
    (refused,) = _tokenize(sessions, "pan", PANS[0], format="pan_first8_last4")
    assert isinstance(refused, RampartError) and refused.slug == "vault-format-refused"
    (allowed,) = _ok(_tokenize(sessions, "pan", PANS[0], format="pan_first6_last4"))
    assert allowed.token[:6] == PANS[0][:6] and allowed.token[-4:] == PANS[0][-4:]


def test_detokenize_errors_per_item_and_purpose(
    local_kms: Settings, sessions: sessionmaker[Session]
) -> None:
    (record,) = _ok(_tokenize(sessions, "pan", PANS[1]))
    (other,) = _ok(_tokenize(sessions, "email", "x@example.com"))
    results = _detokenize(
        sessions, "pan", record.token, "tok_pan_nope", other.token, "4111111111111112"
    )
    assert isinstance(results[0], Detokenized)
    assert isinstance(results[1], TokenMalformed)
    assert isinstance(results[2], TokenMalformed)  # an email token is not a card token
    assert isinstance(results[3], TokenNotFound)  # well-formed, Luhn-failing, unknown
    with pytest.raises(PurposeInvalid), unit_of_work(sessions) as session:
        access.detokenize_batch(
            session, tenant=TEST_TENANT, token_type="pan", tokens=[record.token], purpose=""
        )


def test_detokenize_is_audited_with_ids_purpose_and_never_values(
    local_kms: Settings, sessions: sessionmaker[Session]
) -> None:
    records = _ok(_tokenize(sessions, "pan", *PANS))
    _detokenize(sessions, "pan", *(r.token for r in records), "4111111111111121")
    with sessions() as session:
        entry = session.execute(
            select(AuditEntry).where(AuditEntry.event_type == "vault.detokenized")
        ).scalar_one()
    details = json.loads(entry.details)
    assert entry.actor == "svc-test" and details["purpose"] == "payment.capture"
    assert len(details["ids"]) == 3 and details["unknown"] == {"not-found": 1}
    assert entry.outcome == "failure"
    for pan in PANS:
        assert pan not in entry.details


def test_sad_is_single_use_and_expires(
    local_kms: Settings, sessions: sessionmaker[Session]
) -> None:
    (cvc,) = _ok(_tokenize(sessions, "cvc", "123"))
    assert cvc.single_use and cvc.fingerprint is None and cvc.expires_at is not None
    assert cvc.expires_at - cvc.created_at == timedelta(seconds=900)
    (too_long,) = _tokenize(sessions, "cvc", "123", ttl_seconds=3601)
    assert isinstance(too_long, RampartError) and too_long.slug == "vault-ttl-invalid"
    first = _detokenize(sessions, "cvc", cvc.token)
    assert isinstance(first[0], Detokenized) and first[0].value == "123"
    again = _detokenize(sessions, "cvc", cvc.token)
    assert isinstance(again[0], TokenNotFound)
    with unit_of_work(sessions) as session:
        (revealed,) = access.reveal_batch(
            session, tenant=TEST_TENANT, token_type="cvc", tokens=[cvc.token]
        )
    assert isinstance(revealed, TokenNotFound | RevealNotAllowed)


def test_expiry_enforced_on_use(local_kms: Settings, sessions: sessionmaker[Session]) -> None:
    (record,) = _ok(_tokenize(sessions, "name", "Ada Lovelace", ttl_seconds=1))
    with unit_of_work(sessions) as session:
        row = session.get(VaultToken, record.id)
        assert row is not None and row.expires_at is not None
        row.expires_at = row.created_at - timedelta(seconds=1)
    (expired,) = _detokenize(sessions, "name", record.token)
    assert isinstance(expired, TokenExpired)


def test_reveal_masks_at_most_first6_last4(
    local_kms: Settings, sessions: sessionmaker[Session]
) -> None:
    records = _ok(_tokenize(sessions, "pan", *PANS))
    with unit_of_work(sessions) as session:
        revealed = access.reveal_batch(
            session, tenant=TEST_TENANT, token_type="pan", tokens=[r.token for r in records]
        )
    masks = [r.masked for r in revealed if isinstance(r, Revealed)]
    assert masks == ["411111******1111", "555555******4444", "378282*****0005"]


def test_metadata_and_delete(local_kms: Settings, sessions: sessionmaker[Session]) -> None:
    (record,) = _ok(_tokenize(sessions, "iban", "GB82 WEST 1234 5698 7654 32"))
    with unit_of_work(sessions) as session:
        (meta,) = access.metadata_batch(
            session, tenant=TEST_TENANT, token_type="iban", tokens=[record.token]
        )
        assert isinstance(meta, TokenRecord) and meta.id == record.id
        (deleted,) = access.delete_batch(
            session, tenant=TEST_TENANT, token_type="iban", tokens=[record.token]
        )
        assert not isinstance(deleted, RampartError)
    assert isinstance(_detokenize(sessions, "iban", record.token)[0], TokenNotFound)


def test_ciphertext_bound_to_its_token(
    local_kms: Settings, sessions: sessionmaker[Session]
) -> None:
    a, b = _ok(_tokenize(sessions, "pan", PANS[0], PANS[1]))
    with unit_of_work(sessions) as session:
        row_a, row_b = session.get(VaultToken, a.id), session.get(VaultToken, b.id)
        assert row_a is not None and row_b is not None
        row_a.ciphertext = row_b.ciphertext  # an attacker swapping ciphertexts between rows
    forget_cached_scopes()
    with pytest.raises(RampartError) as caught:
        _detokenize(sessions, "pan", a.token)
    assert caught.value.slug == "vault-ciphertext-tampered"


def test_a_rolled_back_key_assignment_is_not_remembered(
    local_kms: Settings, sessions: sessionmaker[Session]
) -> None:
    """A first tokenize creates the type's data key; if its transaction rolls back, that key
    never existed, and the next tokenize must make its own instead of naming the lost one."""
    forget_cached_scopes()

    class Abandon(Exception):
        pass

    with pytest.raises(Abandon), unit_of_work(sessions) as session:
        service.tokenize_batch(
            session, tenant=TEST_TENANT, token_type="pan", items=[TokenizeRequest(PANS[0])]
        )
        raise Abandon
    (record,) = _tokenize(sessions, "pan", PANS[1])
    assert isinstance(record, TokenRecord)
    assert _detokenize(sessions, "pan", record.token)[0] == Detokenized(
        record.id, record.token, PANS[1]
    )


def test_a_taken_token_is_drawn_again_in_a_batch(
    local_kms: Settings, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first draw of a batch repeats a stored token: the bulk insert (COPY on PostgreSQL)
    cannot take it, the rows go in one by one, and only the colliding item draws again."""
    (first,) = _tokenize(sessions, "pan", PANS[0])
    assert isinstance(first, TokenRecord)
    real_generate: Callable[..., str] = token_rows.generate_token  # type: ignore[attr-defined]
    draws: list[str] = []

    def collide_once(*args: object) -> str:
        draws.append(first.token if not draws else real_generate(*args))
        return draws[-1]

    monkeypatch.setattr(token_rows, "generate_token", collide_once)
    records = _tokenize(sessions, "pan", PANS[1], PANS[2])
    assert all(isinstance(r, TokenRecord) for r in records)
    tokens = [r.token for r in records if isinstance(r, TokenRecord)]
    assert first.token not in tokens and len(draws) == 3
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(VaultToken)) == 3
    assert _detokenize(sessions, "pan", *tokens) == [
        Detokenized(r.id, r.token, value)
        for r, value in zip(records, PANS[1:], strict=True)
        if isinstance(r, TokenRecord)
    ]


def test_a_draft_leaves_the_prepared_batch_as_it_was_and_stores_what_it_answered(
    local_kms: Settings, sessions: sessionmaker[Session]
) -> None:
    """Drafting draws and encrypts without touching the prepared values (a batch stored the
    careful way after a failed shared insert starts from them again); the rows it drafted
    store and read back as answered, each with its own nonce and id."""
    _tokenize(sessions, "pan", PANS[0])  # the scope's keys are in memory from here
    batch = service.prepare_batch("pan", [TokenizeRequest(pan) for pan in PANS])
    draft = service.draft_batch(TEST_TENANT, batch, "svc-test")
    assert draft is not None
    assert all(value.token == "" and value.fingerprint is None for value in batch.values)
    nonces = {row["ciphertext"][1:13] for row in draft.rows}
    assert len(nonces) == len(PANS) and len({row["id"] for row in draft.rows}) == len(PANS)
    with unit_of_work(sessions) as session:
        outcomes, _event = service.store_drafted(session, TEST_TENANT, draft, "svc-test")
    records = _ok(outcomes)
    assert [r.token for r in records] == [row["token"] for row in draft.rows]
    values = _detokenize(sessions, "pan", *(r.token for r in records))
    assert [v.value for v in values if isinstance(v, Detokenized)] == PANS
    with sessions() as session:
        stored = {
            row.token: (row.created_at, row.data_key_id)
            for row in session.scalars(
                select(VaultToken).where(VaultToken.token.in_([r.token for r in records]))
            )
        }
    assert {token: created for token, (created, _key) in stored.items()} == {
        r.token: r.created_at for r in records
    }
