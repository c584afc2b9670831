"""`rampart scan` end to end against the real weak and hardened shops: every planted issue the
built-in engine can see is reported with exit 1, the hardened shop passes, reruns dedupe,
fixing an issue closes its finding, header secrets never appear anywhere, the SSRF guard holds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from cli.main import app
from core.audit.models import AuditEntry
from core.database import get_engine, unit_of_work
from core.kms.provider import get_key_provider
from core.sensitive import contains_card_number
from core.settings import Settings, get_settings
from scanners.models import Finding, ScanTarget
from tests.fixtures.local_apps import serve_app
from tests.scanners.shops import PLANTED, build_weak_shop
from tests.scanners.toggles import Toggled

runner = CliRunner()
SECRET = "Bearer s3cr3t-scan-token-7f1c9a"


@pytest.fixture(autouse=True)
def scan_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("RAMPART_SCAN_ALLOW_PRIVATE_NETWORKS", "true")
    monkeypatch.setenv("RAMPART_SCAN_MAX_SECONDS", "30")
    get_settings.cache_clear()
    get_key_provider().ensure_keys()
    return get_settings()


@pytest.fixture
def toggled_shop() -> Iterator[tuple[str, Toggled]]:
    shop = Toggled(build_weak_shop())
    with serve_app(shop) as url:
        yield url, shop


def _cli(*args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["scan", *args, "--json"])
    assert result.exit_code in (0, 1, 2), result.output
    return result.exit_code, json.loads(result.stdout)


def _add(name: str, url: str, *extra: str) -> None:
    result = runner.invoke(app, ["scan", "target", "add", url, "--name", name, *extra, "--json"])
    assert result.exit_code == 0, result.output


def test_weak_shop_fails_dedupes_and_a_fix_closes_its_finding(
    toggled_shop: tuple[str, Toggled],
) -> None:
    url, shop = toggled_shop
    _add("weak", url)
    code, first = _cli("run", "weak", "--engine", "builtin", "--fail-on", "high")
    assert code == 1
    findings = first["findings"]
    assert isinstance(findings, list)
    assert {f["rule"] for f in findings} >= PLANTED
    assert all(not contains_card_number(json.dumps(f)) for f in findings)
    assert {f["status"] for f in findings} == {"new"}

    code, second = _cli("run", "weak", "--engine", "builtin", "--fail-on", "high")
    assert code == 1
    again = second["findings"]
    assert isinstance(again, list)
    assert {f["id"] for f in again} == {f["id"] for f in findings}  # same rows, no new ones
    assert {f["status"] for f in again} == {"open"}
    with unit_of_work(read_only=True) as session:
        assert session.scalar(text("SELECT count(*) FROM scanners_findings")) == len(findings)

    shop.csp = "default-src 'self'; frame-ancestors 'none'"
    code, third = _cli("run", "weak", "--engine", "builtin", "--fail-on", "high")
    assert code == 1  # the card number and CORS are still there
    rules = {f["rule"] for f in third["findings"]}
    assert "csp-missing" not in rules and "frame-protection-missing" not in rules
    with unit_of_work(read_only=True) as session:
        csp = session.scalars(select(Finding).where(Finding.rule == "csp-missing")).all()
        assert csp and {f.status for f in csp} == {"fixed"}
        assert all(f.fixed_at is not None for f in csp)
        moves = session.scalars(
            select(AuditEntry).where(AuditEntry.event_type == "scanners.finding_transition")
        ).all()
        transitions = {(json.loads(e.details)["from"], json.loads(e.details)["to"]) for e in moves}
        assert {(None, "new"), ("new", "open"), ("open", "fixed")} <= transitions


def test_hardened_shop_passes_below_the_threshold(hardened_shop: str) -> None:
    _add("hardened", hardened_shop)
    code, out = _cli("run", "hardened", "--fail-on", "medium")
    findings = out["findings"]
    assert isinstance(findings, list)
    assert all(f["risk"] in ("info", "low") for f in findings)
    assert code == (2 if findings else 0)


def test_only_registered_targets_and_private_addresses_need_the_setting(
    weak_scan_shop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = runner.invoke(app, ["scan", "run", "nowhere"])
    assert result.exit_code == 3
    assert "no scan target named 'nowhere'" in result.stderr
    _add("weak", weak_scan_shop)
    monkeypatch.setenv("RAMPART_SCAN_ALLOW_PRIVATE_NETWORKS", "false")
    get_settings.cache_clear()
    result = runner.invoke(app, ["scan", "run", "weak"])
    assert result.exit_code == 3
    assert "RAMPART_SCAN_ALLOW_PRIVATE_NETWORKS" in result.stderr
    with unit_of_work(read_only=True) as session:
        assert session.scalar(text("SELECT status FROM scanners_scans")) == "failed"
        assert session.scalar(text("SELECT count(*) FROM scanners_findings")) == 0


def test_header_secret_is_sealed_and_never_shown(
    weak_scan_shop: str, capfd: pytest.CaptureFixture[str]
) -> None:
    add = ["scan", "target", "add", weak_scan_shop, "--name", "authed", "--headers-stdin", "--json"]
    added = runner.invoke(app, add, input=f"Authorization: {SECRET}\n")
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["header_names"] == ["Authorization"]
    outputs = [added.output]
    for args in (["target", "list"], ["target", "show", "authed"], ["run", "authed"]):
        result = runner.invoke(app, ["scan", *args, "--json"])
        outputs.append(result.output)
    assert all(SECRET not in out and "s3cr3t" not in out for out in outputs)
    with get_engine().connect() as conn:
        for table in ("scanners_targets", "scanners_scans", "scanners_findings", "audit_entries",
                      "job_runs"):  # fmt: skip
            for row in conn.execute(text(f"SELECT * FROM {table}")):  # noqa: S608
                assert "s3cr3t" not in repr(row).lower()
    with unit_of_work(read_only=True) as session:
        from scanners.targets import headers_of

        target = session.scalars(select(ScanTarget)).one()
        assert headers_of(session, target) == {"Authorization": SECRET}  # it opens for the engine
    captured = capfd.readouterr()
    assert "s3cr3t" not in captured.out + captured.err


def test_bad_patterns_and_urls_are_one_line_errors() -> None:
    bad = runner.invoke(app, ["scan", "target", "add", "http://shop.test/", "--name", "x",
                              "--include", "(unclosed"])  # fmt: skip
    assert bad.exit_code == 1
    assert "include pattern '(unclosed' is not a regular expression" in bad.stderr
    bad = runner.invoke(app, ["scan", "target", "add", "ftp://shop.test/", "--name", "x"])
    assert bad.exit_code == 1 and "http or https" in bad.stderr
    _add("x", "http://shop.test")
    dup = runner.invoke(app, ["scan", "target", "add", "http://shop.test/", "--name", "x"])
    assert dup.exit_code == 1 and "exists" in dup.stderr


def test_findings_show_accept_false_positive_and_the_gate(weak_scan_shop: str) -> None:
    _add("weak", weak_scan_shop)
    _cli("run", "weak")
    code, listed = _cli("findings", "weak", "--min-risk", "high")
    assert code == 0
    high = listed["findings"]
    assert {f["rule"] for f in high} == {"card-number-disclosure", "cors-misconfiguration"}
    card = next(f for f in high if f["rule"] == "card-number-disclosure")
    _, shown = _cli("show", card["id"])
    assert shown["fingerprint"] == card["fingerprint"] and "1111" in shown["evidence"]
    assert not contains_card_number(json.dumps(shown))
    too_long = ["--reason", "test fixture", "--approver", "ciso", "--until", "2099-01-01"]
    accepted = runner.invoke(app, ["scan", "accept", card["id"], *too_long, "--json"])
    assert accepted.exit_code == 1 and "within a year" in accepted.stderr
    until = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    _, accepted_json = _cli("accept", card["id"], "--reason", "test fixture", "--approver",
                            "ciso", "--until", until)  # fmt: skip
    assert accepted_json["status"] == "accepted" and accepted_json["approver"] == "ciso"
    for cors in (f for f in high if f["rule"] == "cors-misconfiguration"):
        _, fp = _cli("false-positive", cors["id"], "--reason", "origin allow-listed upstream")
        assert fp["status"] == "false_positive"
    code, rerun = _cli("run", "weak", "--fail-on", "high")
    assert code == 2  # only medium and low remain active: warnings
    assert {f["rule"] for f in rerun["findings"]}.isdisjoint(
        {"card-number-disclosure", "cors-misconfiguration"}
    )
    unknown = runner.invoke(app, ["scan", "run", "weak", "--format", "pdf"])
    assert unknown.exit_code == 3 and "unknown report format 'pdf'" in unknown.stderr


def test_the_issue_command_writes_sarif_that_validates_and_exits_1(
    toggled_shop: tuple[str, Toggled], tmp_path: Any
) -> None:
    """`rampart scan run weak --engine builtin --fail-on high --format sarif --output out.sarif`"""
    import jsonschema_rs

    from tests.scanners.test_reports import SCHEMA_PATH

    url, _ = toggled_shop
    _add("weak", url)
    out = tmp_path / "out.sarif"
    result = runner.invoke(app, ["scan", "run", "weak", "--engine", "builtin", "--fail-on",
                                 "high", "--format", "sarif", "--output", str(out)])  # fmt: skip
    assert result.exit_code == 1, result.output
    document = json.loads(out.read_text())
    validator = jsonschema_rs.Draft4Validator(json.loads(SCHEMA_PATH.read_text()))
    assert [e.message for e in validator.iter_errors(document)] == []
    reported = {r["ruleId"] for r in document["runs"][0]["results"]}
    assert reported >= PLANTED
    assert not contains_card_number(out.read_text())
