"""GDPR checks: storage limitation, records of processing, privacy by default, erasure probe."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from core.clock import utcnow
from core.database import unit_of_work
from tests.compliance.checks.conftest import ContextFactory, run
from vault.records import TokenizeRequest
from vault.service import tokenize

RECORDS = """
activities:
  - name: Checkout
    purpose: Take payment for orders
    legal_basis: contract
    data_categories: [user.contact.email, user.financial.credit_card]
    data_subjects: [customer]
    retention: 13 months after the order
"""


def test_storage_limitation_passes_and_fails_with_an_expired_token_left(
    read_context: ContextFactory,
) -> None:
    with unit_of_work() as db:
        tokenize(
            db, tenant="shop", token_type="email",
            item=TokenizeRequest("ann@example.com", ttl_seconds=3600),
        )  # fmt: skip
    assert run("gdpr.storage_limitation", read_context()).status == "pass"
    result = run("gdpr.storage_limitation", read_context(now=utcnow() + timedelta(days=3)))
    assert result.status == "fail"
    assert result.observed == {"expired_tokens_not_purged": 1}


def test_records_of_processing_pass_when_complete_and_fail_when_missing_or_vague(
    read_context: ContextFactory, tmp_path: Path
) -> None:
    assert run("gdpr.records_of_processing", read_context()).status == "fail"  # none configured
    records = tmp_path / "processing.yaml"
    records.write_text(RECORDS)
    complete = run(
        "gdpr.records_of_processing", read_context(compliance_processing_records=records)
    )
    assert complete.status == "pass", complete
    records.write_text(
        RECORDS.replace("contract", "because").replace("user.contact.email", "emails")
    )
    vague = run("gdpr.records_of_processing", read_context(compliance_processing_records=records))
    assert vague.status == "fail"
    assert vague.observed["problems"] == [
        "activity 0: legal basis 'because' is not Article 6",
        "activity 0: unknown data categories ['emails']",
    ]


def test_privacy_by_default_passes_and_fails_with_deterministic_national_ids(
    read_context: ContextFactory,
) -> None:
    assert run("gdpr.privacy_by_default", read_context()).status == "pass"
    weak = read_context(vault_deterministic_types=["national_id"])
    assert run("gdpr.privacy_by_default", weak).status == "fail"


def test_erasure_probe_passes_on_rampart_and_fails_where_erasure_erases_nothing(
    live_context: ContextFactory, weak_shop: str
) -> None:
    erased = run("gdpr.erasure_probe", live_context())
    assert erased.status == "pass", erased
    assert erased.observed["detokenize_after"] == 410
    kept = run("gdpr.erasure_probe", live_context(url=weak_shop))
    assert kept.status == "fail"


def test_an_overdue_request_flips_the_article_12_3_check(read_context: ContextFactory) -> None:
    from sqlalchemy import update

    from compliance.gdpr import service
    from compliance.gdpr.connectors.base import SubjectRef
    from compliance.gdpr.models import DsarRequest

    with unit_of_work() as db:
        request_id = service.file_request(
            db,
            type="access",
            subject=SubjectRef("cust-9", None),
            channel="officer",
            actor="user:officer",
            identity_verified=True,
        ).id
    on_time = run("gdpr.dsar_deadlines", read_context())
    assert on_time.status == "pass"
    assert on_time.observed == {"open_requests": 1, "overdue": 0, "extended_without_notice": 0}
    assert (
        run("gdpr.dsar_deadlines", read_context(now=utcnow() + timedelta(days=32))).status == "fail"
    )
    with unit_of_work() as db:
        db.execute(
            update(DsarRequest).where(DsarRequest.id == request_id).values(state="withdrawn")
        )
    assert (
        run("gdpr.dsar_deadlines", read_context(now=utcnow() + timedelta(days=32))).status == "pass"
    )
