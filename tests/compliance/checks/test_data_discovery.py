"""The card-number scan over Rampart's database, its logs, and registered databases and logs."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from compliance.checks.data_discovery import card_numbers, luhn_valid
from core.database import unit_of_work
from core.settings import Settings
from iam.accounts.service import create_user
from tests.compliance.checks.conftest import ContextFactory, run
from vault.records import TokenizeRequest
from vault.service import tokenize

PAN = "4111111111111111"
MASKED = "411111******1111"


def test_luhn_and_masking() -> None:
    assert luhn_valid(PAN) and not luhn_valid("4111111111111112")
    assert list(card_numbers(f"card 4111 1111 1111 1111 and 5500-0000-0000-0004, id {PAN}2")) == [
        MASKED,
        "550000******0004",
    ]
    assert list(card_numbers("order 1234567890123 and 20261207033000123")) == []


def test_hex_digests_and_uuids_are_not_card_numbers() -> None:
    # Found by the done-when test: an evidence digest (and the ledger's copy of it) whose hex
    # held a Luhn-valid 19-digit run made the scan fail on Rampart's own hashes.
    digest = "e3b0c44298fc1c1a" + "5997531234567891770" + "bc9a2d8f"
    assert luhn_valid("5997531234567891770")
    assert list(card_numbers(f'{{"sha256": "{digest}"}}')) == []
    assert list(card_numbers("id 51234567-8901-2345-6789-012345678901")) == []
    # ...while a number beside a digest is still found.
    assert list(card_numbers(f"{digest} {PAN}")) == [MASKED]


def test_scan_passes_with_pans_only_in_the_vault_and_fails_on_one_in_a_column(
    read_context: ContextFactory,
) -> None:
    with unit_of_work() as db:
        tokenize(db, tenant="shop", token_type="pan", item=TokenizeRequest(PAN))
        create_user(db, "dan@shop.example", name="Dan")
    clean = run("data.card_number_scan", read_context())
    assert clean.status == "pass", clean
    assert clean.observed["columns_scanned"] > 20
    with unit_of_work() as db:
        create_user(db, "dan@shop.example", name=f"Dan {PAN}")
    found = run("data.card_number_scan", read_context())
    assert found.status == "fail"
    assert found.observed["findings"] == [{"where": "rampart:iam_users.name", "masked": MASKED}]
    assert PAN not in repr(found)


def test_scan_reads_log_files_and_registered_databases(
    read_context: ContextFactory, keyed_settings: Settings, tmp_path: Path
) -> None:
    log = keyed_settings.data_dir / "server.log"
    log.write_text("ok\npaid with 4111-1111-1111-1111\n")
    in_log = run("data.card_number_scan", read_context())
    assert in_log.observed["findings"] == [{"where": f"{log}:2", "masked": MASKED}]
    log.unlink()

    shop = tmp_path / "shop.db"
    engine = create_engine(f"sqlite:///{shop}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE orders (id INTEGER, note TEXT, card TEXT)"))
        connection.execute(text("INSERT INTO orders VALUES (1, 'gift', :card)"), {"card": PAN})
    engine.dispose()
    extra = {"compliance_pan_scan_databases": [f"sqlite:///{shop}"]}
    everywhere = run("data.card_number_scan", read_context(**extra))
    assert everywhere.status == "fail"
    assert everywhere.observed["findings"] == [
        {"where": "database[0]:orders.card", "masked": MASKED}
    ]
    only_notes = read_context(**extra, compliance_pan_scan_columns=["orders.note"])
    assert run("data.card_number_scan", only_notes).status == "pass"
    extra_log = tmp_path / "shop.log"
    extra_log.write_text(f"card={PAN}\n")
    registered = read_context(compliance_pan_scan_logs=[str(tmp_path / "*.log")])
    assert run("data.card_number_scan", registered).status == "fail"
