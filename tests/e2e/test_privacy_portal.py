"""The privacy portal end to end, in Debian Chromium against a real `rampart serve`: a customer
signs in with the code mailed to them (read from the .eml core.mail wrote), files each of the six
request types; the officer side (compliance.gdpr.decisions, workflow.process_request) fulfils them
on the same database; the customer downloads the access package (once) and the certificate,
whose signature `openssl` verifies; erasure is proven on the database bytes; axe-core finds no
serious or critical violation on any portal page."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from compliance.gdpr import connector_service, consent, decisions, service, workflow
from compliance.gdpr.connectors.base import REQUEST_TYPES
from compliance.gdpr.models import DsarOutcome
from core.database import unit_of_work
from core.settings import get_settings
from tests.compliance.gdpr.connectors.conftest import (
    ADDRESS,
    EMAIL,
    NAME,
    PAN,
    Customer,
    customer,
    sessions,
)
from tests.compliance.gdpr.connectors.test_erasure_bytes import _database_bytes
from tests.compliance.gdpr.portal.support import latest_code
from tests.e2e.conftest import axe_violations
from tests.examples.test_dsar_connector import SECRET as CRM_SECRET
from tests.examples.test_dsar_connector import start_crm
from tests.fixtures.openssl import openssl_verify
from tests.iam.browser.test_login_flow import serve_rampart

__all__ = ["customer", "sessions"]  # fixtures used by name

RIGHT_LINKS = {
    "access": "Get a copy of my data",
    "rectification": "Correct my data",
    "erasure": "Delete my data",
    "restriction": "Restrict use of my data",
    "portability": "Take my data elsewhere",
    "objection": "Object to a use of my data",
}
DETAIL_URL = re.compile(r"/privacy/requests/([0-9a-f-]{36})$")
OFFICER = "user:officer-e2e"


@pytest.fixture
def shop_connector(
    customer: Customer, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The example shop CRM (examples/dsar_connector) as a real process holding the customer's
    records, registered as a webhook connector: fulfilment reaches it with signed calls."""
    monkeypatch.setenv("RAMPART_GDPR_ALLOW_PRIVATE_NETWORKS", "true")  # it listens on loopback
    get_settings.cache_clear()
    with start_crm(subjects=[customer.subject]) as base:
        with unit_of_work(sessions) as db:
            connector_service.create_webhook(
                db,
                name="crm",
                url=base + "/rampart/dsar",
                types=list(REQUEST_TYPES),
                secret=CRM_SECRET,
                actor="user:officer-e2e",
            )
        yield base
    get_settings.cache_clear()


@pytest.fixture
def server(customer: Customer, shop_connector: str, tmp_path: Path) -> Iterator[str]:
    with unit_of_work() as db:
        consent.seed_default_purposes(db, actor="test")
    yield from serve_rampart(tmp_path)


class Checked:
    """Runs axe-core on each distinct portal page the test visits."""

    def __init__(self, page: Page, script: Path) -> None:
        self.page, self.script = page, script
        self.seen: dict[str, list[dict[str, Any]]] = {}

    def __call__(self, name: str) -> None:
        if name not in self.seen:
            self.seen[name] = axe_violations(self.page, self.script)


def _sign_in(page: Page, base: str, axe: Checked) -> None:
    page.goto(base + "/privacy/requests")
    expect(page).to_have_url(base + "/privacy?next=%2Fprivacy%2Frequests")
    axe("sign-in")
    page.get_by_label("E-mail address").fill(EMAIL)
    page.get_by_role("button", name="Send me a code").click()
    expect(page.locator("#code-sent")).to_be_visible()
    axe("code")
    code = latest_code(EMAIL)
    page.get_by_label("Code from the e-mail").fill(f"{(int(code) + 1) % 10**8:08d}")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("That code is not valid")
    axe("code-error")
    page.get_by_label("Code from the e-mail").fill(code)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(base + "/privacy/requests")
    axe("requests-empty")


def _file_each(page: Page, base: str, axe: Checked) -> dict[str, UUID]:
    ids: dict[str, UUID] = {}
    for type_ in REQUEST_TYPES:
        page.goto(base + "/privacy/requests")
        page.get_by_role("link", name=RIGHT_LINKS[type_]).click()
        axe(f"new-{type_}")
        if type_ == "rectification":
            page.get_by_label("Data 1 (for example: name, address)").fill("name")
            page.get_by_label("Correct value 1").fill("Ada King")
        elif type_ == "erasure":
            expect(page.locator("#erasure-warning")).to_contain_text("cannot be undone")
            page.get_by_role("button", name="Send request").click()  # not confirmed: refused
            expect(page.get_by_role("alert")).to_contain_text("Tick the box")
            axe("new-erasure-error")
            page.get_by_label("I understand: delete my data").check()
        elif type_ in ("restriction", "objection"):
            page.locator("input[name=purpose]").first.check()
        page.get_by_role("button", name="Send request").click()
        match = DETAIL_URL.search(page.url)
        assert match, page.url
        ids[type_] = UUID(match.group(1))
        expect(page.locator("#request-state")).to_have_text("Confirmed, waiting to start")
        axe("detail")
    page.goto(base + "/privacy/requests")
    expect(page.locator("#requests tbody tr")).to_have_count(6)
    axe("requests")
    return ids


def _fulfil(sessions: sessionmaker[Session], request_id: UUID) -> str:
    with unit_of_work(sessions) as db:
        started = decisions.start(db, request_id, actor=OFFICER)
        if started.state == "awaiting_approval":
            decisions.approve(db, request_id, actor=OFFICER)
    return workflow.process_request(request_id, factory=sessions, actor=OFFICER)


def test_privacy_portal_end_to_end(
    server: str,
    page: Page,
    axe_script: Path,
    sessions: sessionmaker[Session],
    engine: Engine,
    tmp_path: Path,
    shop_connector: str,
) -> None:
    axe = Checked(page, axe_script)
    _sign_in(page, server, axe)
    ids = _file_each(page, server, axe)

    # The officer fulfils every request; erasure last (it removes the account).
    states: dict[str, str] = {t: _fulfil(sessions, ids[t]) for t in REQUEST_TYPES if t != "erasure"}
    states["erasure"] = _fulfil(sessions, ids["erasure"])
    assert states == dict.fromkeys(REQUEST_TYPES, "completed"), states
    with unit_of_work(sessions) as db:  # every request reached the shop's CRM, which answered
        for type_ in REQUEST_TYPES:
            crm = db.get(DsarOutcome, (ids[type_], "crm"))
            assert crm is not None and crm.status == "done", (type_, crm and crm.detail)
    assert httpx.get(shop_connector + "/stats").json()["customers"] == 0  # erased there too

    # The access package, through the single-use link behind the portal session.
    page.goto(f"{server}/privacy/requests/{ids['access']}")
    expect(page.locator("#request-state")).to_have_text("Done")
    axe("detail-completed")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download your data (zip)").click()
    package = tmp_path / "package.zip"
    download_info.value.save_as(package)
    with zipfile.ZipFile(package) as archive:
        names = set(archive.namelist())
        assert {"information.json", "manifest.json", "summary.html"} <= names
        crm_files = {n for n in names if n.startswith("crm/")}
        assert crm_files and any(n.endswith(".csv") for n in crm_files), names
        assert any(n.startswith("rampart.vault/") for n in names), names
    with unit_of_work(sessions) as db:
        sha = service.get_request(db, ids["access"]).package_sha256
    assert hashlib.sha256(package.read_bytes()).hexdigest() == sha
    with unit_of_work(sessions) as db:
        assert len(service.request_history(db, ids["access"])) >= 4

    # The certificates: downloaded in the browser, verified with openssl alone.
    for type_ in ("access", "erasure"):
        page.goto(f"{server}/privacy/requests/{ids[type_]}")
        directory = tmp_path / f"certificate-{type_}"
        directory.mkdir()
        for name in ("certificate.json", "certificate.sig", "public-key.pem"):
            with page.expect_download() as download_info:
                page.get_by_role("link", name=name).click()
            download_info.value.save_as(directory / name)
        verified = openssl_verify(directory, "certificate.json", "certificate.sig")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        document = json.loads((directory / "certificate.json").read_text())
        assert document["request_id"] == str(ids[type_])
        if type_ == "access":
            assert document.get("package_sha256") == sha
        tampered = directory / "tampered.json"
        tampered.write_bytes((directory / "certificate.json").read_bytes().replace(b'"', b"'", 1))
        assert openssl_verify(directory, "tampered.json", "certificate.sig").returncode != 0

    # Signed out, the portal session (and the address it held) is gone; then the bytes.
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(server + "/privacy")
    after = _database_bytes(engine)
    for plaintext in (NAME, "Ada King", ADDRESS, PAN, "Lovelace", EMAIL):
        for encoding in ("utf-8", "utf-16-le"):
            assert plaintext.encode(encoding) not in after, f"{plaintext[:3]}... remains"

    serious = {name: found for name, found in axe.seen.items() if found}
    assert not serious, serious
    assert len(axe.seen) >= 12
