"""Scan reports: SARIF from a real built-in scan of the weak shop validates against the official
SARIF 2.1.0 schema (OASIS errata 01, vendored in tests/scanners/schemas/), JUnit XML parses with
the structure CI consumers read, JSON keeps its documented shape, HTML escapes what it shows,
and no format ever carries a full card number, even one that reached a stored field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin
from uuid import uuid4
from xml.etree import ElementTree as ET

import jsonschema_rs
import pytest
import xmlschema

from core.sensitive import contains_card_number
from scanners.engines import get_engine
from scanners.engines.base import Limits, Observation, ScanRequest, Scope
from scanners.exceptions import ReportFormatUnknown
from scanners.models import Finding, Scan, ScanTarget
from scanners.normalise import normalise
from scanners.reports import FORMATS, render
from scanners.rules import RULES
from tests.scanners.shops import CARD, PLANTED

SCHEMAS = Path(__file__).parent / "schemas"
SCHEMA_PATH = SCHEMAS / "sarif-schema-2.1.0.json"
JUNIT_SCHEMA = xmlschema.XMLSchema10(SCHEMAS / "junit-10.xsd")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LIMITS = Limits(
    max_pages=50, max_depth=5, max_seconds=30, request_timeout=5, max_response_bytes=1 << 20
)


@pytest.fixture(scope="module")
def sarif_validator() -> Any:
    schema = json.loads(SCHEMA_PATH.read_text())
    return jsonschema_rs.Draft4Validator(schema, validate_formats=True)


def _target(url: str = "http://shop.test/") -> ScanTarget:
    return ScanTarget(
        id=uuid4(),
        name="weak",
        url=url,
        include='["http://shop.test/.*"]',
        exclude="[]",
        created_by="alice",
    )


def _scan(target: ScanTarget, **changes: Any) -> Scan:
    fields: dict[str, Any] = dict(
        id=uuid4(),
        target_id=target.id,
        engine="builtin",
        status="complete",
        triggered_by="alice",
        pages_done=6,
        started_at=NOW,
        finished_at=NOW + timedelta(seconds=3),
    )
    return Scan(**(fields | changes))


def _finding(target: ScanTarget, rule: str = "csp-missing", **changes: Any) -> Finding:
    definition = RULES[rule]
    fields: dict[str, Any] = dict(
        id=uuid4(),
        target_id=target.id,
        fingerprint=uuid4().hex * 2,
        engine="builtin",
        rule=rule,
        title=definition.title,
        cwe=definition.cwe,
        zap_plugin_id=definition.zap_plugin_id,
        risk=definition.risk,
        confidence="medium",
        url_template="http://shop.test/orders/{id}",
        url="http://shop.test/orders/1001",
        parameter="",
        method="GET",
        evidence="",
        status="open",
        first_seen_at=NOW,
        last_seen_at=NOW,
        sla_due_at=NOW + timedelta(days=90),
    )
    return Finding(**(fields | changes))


def _scanned_findings(url: str, target: ScanTarget) -> list[Finding]:
    """Findings as the findings service would store them, from a real scan of the weak shop."""
    request = ScanRequest(target="weak", scope=Scope(url + "/"), limits=LIMITS, allow_private=True)
    stored: dict[str, Finding] = {}
    for event in get_engine("builtin").scan(request):
        if not isinstance(event, Observation):
            continue
        n = normalise(str(target.id), event)
        if n.fingerprint in stored:
            continue
        stored[n.fingerprint] = _finding(
            target,
            n.rule.key,
            fingerprint=n.fingerprint,
            risk=n.risk,
            confidence=n.confidence,
            url_template=n.url_template,
            url=n.url,
            parameter=n.parameter,
            method=n.method,
            evidence=n.evidence,
            status="new",
        )
    return list(stored.values())


def _errors(validator: Any, document: Any) -> list[str]:
    return [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(document)]


def _junit(data: bytes) -> ET.Element:
    """The report parsed, after checking it against the JUnit schema Jenkins' xUnit enforces."""
    root = ET.fromstring(data)  # noqa: S314  (our own output, parsed to check it)
    JUNIT_SCHEMA.validate(root)
    return root


def _start_tags(html: str) -> list[tuple[str, list[str]]]:
    tags: list[tuple[str, list[str]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            tags.append((tag, [name for name, _ in attrs]))

    Collector().feed(html)
    return tags


def test_an_unknown_format_is_a_clear_error() -> None:
    target = _target()
    with pytest.raises(ReportFormatUnknown) as raised:
        render("pdf", target=target, scan=None, findings=[])
    assert "pdf" in str(raised.value.detail) and "sarif, junit, json, html" in str(
        raised.value.detail
    )
    assert raised.value.status == 422


def test_sarif_of_a_real_scan_validates_and_maps_rules(
    weak_scan_shop: str, sarif_validator: Any
) -> None:
    target = _target(weak_scan_shop + "/")
    findings = _scanned_findings(weak_scan_shop, target)
    assert {f.rule for f in findings} >= PLANTED
    document = json.loads(render("sarif", target=target, scan=_scan(target), findings=findings))

    assert _errors(sarif_validator, document) == []
    assert document["version"] == "2.1.0"
    assert document["$schema"].endswith("sarif-schema-2.1.0.json")
    (run,) = document["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "Rampart builtin"
    assert driver["version"] and driver["informationUri"].startswith("https://")
    rules = driver["rules"]
    assert {r["id"] for r in rules} == {f.rule for f in findings}
    by_id = {r["id"]: r for r in rules}
    csp = by_id["csp-missing"]
    assert "external/cwe/cwe-693" in csp["properties"]["tags"]
    assert csp["helpUri"] == "https://www.zaproxy.org/docs/alerts/10038/"
    assert float(csp["properties"]["security-severity"]) == pytest.approx(5.5)
    assert float(by_id["card-number-disclosure"]["properties"]["security-severity"]) >= 7.0
    assert run["invocations"][0]["executionSuccessful"] is True

    results = run["results"]
    assert len(results) == len(findings)
    fingerprints = {f.fingerprint for f in findings}
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["partialFingerprints"]["rampartFinding/v1"] in fingerprints
        artifact = result["locations"][0]["physicalLocation"]["artifactLocation"]
        assert artifact["uriBaseId"] == "TARGET" and "://" not in artifact["uri"]
        url = urljoin(run["originalUriBaseIds"]["TARGET"]["uri"], artifact["uri"])
        assert url.startswith(weak_scan_shop + "/")
        assert result["webRequest"]["target"] == url
        assert result["properties"]["status"] == "new"
        assert result["baselineState"] == "new"
    levels = {r["ruleId"]: r["level"] for r in results}
    assert run["originalUriBaseIds"] == {
        "TARGET": {"uri": weak_scan_shop + "/", "description": {"text": "origin of weak"}}
    }
    assert levels["cors-misconfiguration"] == "error"  # high
    assert levels["csp-missing"] == "warning"  # medium
    assert levels["server-version-disclosure"] == "note"  # low
    card = next(r for r in results if r["ruleId"] == "card-number-disclosure")
    assert "1111" in card["properties"]["evidence"]
    assert CARD not in json.dumps(document)


def test_sarif_marks_accepted_false_positive_and_fixed_findings(sarif_validator: Any) -> None:
    target = _target()
    accepted = _finding(
        target,
        "cors-misconfiguration",
        status="accepted",
        reason="partner API",
        approver="ciso@shop.test",
        accepted_until=NOW + timedelta(days=30),
    )
    false_positive = _finding(target, "sri-missing", status="false_positive", reason="own CDN")
    fixed = _finding(target, "directory-listing", status="fixed", fixed_at=NOW)
    # A URL template with braces and a mask's brackets must still be a valid URI.
    odd = _finding(target, "email-disclosure", url="http://shop.test/a b/{x}?q=[1]")
    document = json.loads(
        render("sarif", target=target, scan=None, findings=[accepted, false_positive, fixed, odd])
    )
    assert _errors(sarif_validator, document) == []
    results = {r["ruleId"]: r for r in document["runs"][0]["results"]}
    suppression = results["cors-misconfiguration"]["suppressions"][0]
    assert suppression == {
        "kind": "external",
        "status": "accepted",
        "justification": "partner API",
        "properties": {"approver": "ciso@shop.test", "acceptedUntil": "2026-12-31T12:00:00Z"},
    }
    assert results["sri-missing"]["suppressions"][0]["justification"] == "own CDN"
    assert results["directory-listing"]["kind"] == "pass"
    assert results["directory-listing"]["level"] == "none"
    assert results["directory-listing"]["baselineState"] == "absent"
    assert "suppressions" not in results["email-disclosure"]
    location = results["email-disclosure"]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "a%20b/%7Bx%7D?q=%5B1%5D", "uriBaseId": "TARGET"}
    assert results["email-disclosure"]["webRequest"]["target"] == (
        "http://shop.test/a%20b/%7Bx%7D?q=%5B1%5D"
    )
    assert "invocations" not in document["runs"][0]  # no scan given: nothing to claim about one


def test_the_schema_rejects_what_sarif_does_not_allow(sarif_validator: Any) -> None:
    # The validation above would be worthless if the schema let anything through.
    target = _target()
    document = json.loads(render("sarif", target=target, scan=None, findings=[_finding(target)]))
    broken = json.loads(json.dumps(document))
    broken["runs"][0]["results"][0]["level"] = "fatal"
    del broken["runs"][0]["tool"]["driver"]["name"]
    errors = _errors(sarif_validator, broken)
    assert any("fatal" in e for e in errors)
    assert any("name" in e for e in errors)


def _all_formats(target: ScanTarget, findings: list[Finding]) -> Iterator[tuple[str, str]]:
    scan = _scan(target, status="failed", error=f"gave up on card {CARD}")
    for fmt in FORMATS:
        yield fmt, render(fmt, target=target, scan=scan, findings=findings).decode()


def test_no_report_carries_a_full_card_number_even_from_a_stored_field() -> None:
    target = _target(f"http://shop.test/?card={CARD}")
    spaced = "4111 1111 1111 1111"
    leaky = _finding(
        target,
        "card-number-disclosure",
        url=f"http://shop.test/pay?card={CARD}",
        url_template=f"http://shop.test/pay/{CARD}",
        parameter=CARD,
        evidence=f"card {CARD} and {spaced}",
        reason=f"was {CARD}",
        status="accepted",
        approver="bob",
        accepted_until=NOW + timedelta(days=1),
    )
    for fmt, text in _all_formats(target, [leaky]):
        assert not contains_card_number(text), fmt
        assert CARD not in text and spaced not in text, fmt
        assert "1111" in text, fmt  # masked to the last four, still recognisable


def test_junit_has_one_suite_and_a_case_per_rule() -> None:
    target = _target()
    findings = [
        _finding(target, "cors-misconfiguration", evidence="Access-Control-Allow-Origin: *"),
        _finding(target, "cors-misconfiguration", url="http://shop.test/api", risk="medium"),
        _finding(target, "server-version-disclosure"),  # low: listed, does not fail
        _finding(
            target,
            "sri-missing",
            status="accepted",
            approver="bob",
            accepted_until=NOW + timedelta(days=3),
        ),
        _finding(target, "csp-missing", status="fixed", fixed_at=NOW),
        _finding(target, "directory-listing", evidence="Index of /\x00\x1b[31m"),  # control bytes
    ]
    root = _junit(render("junit", target=target, scan=_scan(target), findings=findings))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "weak" and suite.get("hostname") == "shop.test"
    assert suite.get("timestamp") == "2026-12-01T12:00:00Z" and suite.get("time") == "3.000"
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert set(cases) == set(RULES)
    failing = {name for name, case in cases.items() if case.find("failure") is not None}
    assert failing == {"cors-misconfiguration", "directory-listing"}
    cors_failure = cases["cors-misconfiguration"].find("failure")
    assert cors_failure is not None and cors_failure.get("type") == "high"
    assert "2 " in (cors_failure.get("message") or "")
    assert "http://shop.test/api" in (cors_failure.text or "")
    low_out = cases["server-version-disclosure"].find("system-out")
    assert low_out is not None and "[low] [open]" in (low_out.text or "")
    accepted_out = cases["sri-missing"].find("system-out")
    assert accepted_out is not None and "accepted by bob" in (accepted_out.text or "")
    assert list(cases["csp-missing"]) == []  # fixed: a plain pass
    assert suite.get("tests") == str(len(RULES)) and suite.get("failures") == "2"
    assert root.get("failures") == "2" and suite.get("errors") == "0"
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["target"] == "http://shop.test/" and properties["scan.status"] == "complete"


def test_the_junit_schema_rejects_what_junit_consumers_do_not_read() -> None:
    target = _target()
    root = _junit(render("junit", target=target, scan=None, findings=[_finding(target)]))
    suite = root.find("testsuite")
    assert suite is not None
    del suite.attrib["failures"]
    assert not JUNIT_SCHEMA.is_valid(root)


def test_junit_reports_a_failed_scan_as_an_error() -> None:
    target = _target()
    scan = _scan(target, status="failed", error="the target URL could not be fetched")
    root = _junit(render("junit", target=target, scan=scan, findings=[]))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("errors") == "1"
    error = suite.find("testcase[@name='scan']/error")
    assert error is not None and error.get("message") == "the target URL could not be fetched"


def test_json_has_the_documented_shape_and_counts() -> None:
    target = _target()
    findings = [
        _finding(target, "cors-misconfiguration"),
        _finding(target, "csp-missing", status="new"),
        _finding(target, "csp-missing", status="accepted", url="http://shop.test/b"),
        _finding(target, "cookie-no-samesite", status="fixed", sla_due_at=NOW - timedelta(days=1)),
        _finding(target, "referrer-policy-missing", sla_due_at=NOW - timedelta(days=1)),
    ]
    document = json.loads(render("json", target=target, scan=_scan(target), findings=findings))
    assert set(document) == {
        "format",
        "format_version",
        "generated_at",
        "rampart_version",
        "target",
        "scan",
        "summary",
        "findings",
    }
    assert document["format"] == "rampart-scan-report" and document["format_version"] == 1
    assert document["target"]["include"] == ["http://shop.test/.*"]
    assert document["scan"]["engine"] == "builtin" and document["scan"]["pages"] == 6
    summary = document["summary"]
    assert summary["total"] == 5 and summary["active"] == 3 and summary["overdue"] == 1
    assert summary["by_risk"] == {"critical": 0, "high": 1, "medium": 1, "low": 1, "info": 0}
    assert summary["by_status"] == {
        "new": 1,
        "open": 2,
        "fixed": 1,
        "accepted": 1,
        "false_positive": 0,
    }
    risks = [f["risk"] for f in document["findings"]]
    assert risks == ["high", "medium", "medium", "low", "low"]  # most serious first
    first = document["findings"][0]
    assert first["rule"] == "cors-misconfiguration" and first["cwe"] == 942
    assert first["sla_due_at"] == "2027-03-01T12:00:00Z" and first["sla_overdue"] is False
    overdue = next(f for f in document["findings"] if f["rule"] == "referrer-policy-missing")
    assert overdue["sla_overdue"] is True
    fixed = next(f for f in document["findings"] if f["rule"] == "cookie-no-samesite")
    assert fixed["sla_overdue"] is False  # a fixed finding is past its SLA, not overdue


def test_html_is_self_contained_and_escapes_what_it_shows() -> None:
    target = _target()
    hostile = _finding(
        target,
        "sri-missing",
        url='http://shop.test/?q=<script>alert("u")</script>',
        parameter="<img src=x onerror=alert(1)>",
        evidence="<script>alert('e')</script>",
    )
    findings = [hostile, _finding(target, "cors-misconfiguration")]
    html = render("html", target=target, scan=_scan(target), findings=findings).decode()
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "&lt;script&gt;alert(&#39;e&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    tags = _start_tags(html)  # what a browser would build: nothing loaded, nothing run
    assert {tag for tag, _ in tags} <= {
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "h1",
        "h2",
        "p",
        "table",
        "tr",
        "th",
        "td",
        "br",
        "small",
    }
    assert not [
        name
        for _, attrs in tags
        for name in attrs
        if name in ("src", "href") or name.startswith("on")
    ]
    assert "Third-party script without Subresource Integrity" in html
    assert "CWE-942" in html and "Scan report: weak" in html
    high_header = html.index(">high</th>")
    assert high_header < html.index(">medium</th>")


def test_a_rule_outside_the_catalogue_still_gets_a_described_rule(sarif_validator: Any) -> None:
    target = _target()
    stray = _finding(target, title="Something odd", cwe=79, zap_plugin_id=None, risk="critical")
    stray.rule = "engine-only-rule"  # e.g. an engine's rule key not (yet) in scanners.rules
    document = json.loads(render("sarif", target=target, scan=None, findings=[stray]))
    assert _errors(sarif_validator, document) == []
    (rule,) = document["runs"][0]["tool"]["driver"]["rules"]
    assert rule["id"] == "engine-only-rule" and rule["shortDescription"]["text"] == "Something odd"
    assert rule["helpUri"] == "https://cwe.mitre.org/data/definitions/79.html"
    assert rule["properties"]["security-severity"] == "9.5"
    assert document["runs"][0]["results"][0]["level"] == "error"


def test_reports_render_rows_loaded_from_the_database(engine: Any, sarif_validator: Any) -> None:
    from sqlalchemy.orm import Session

    target = _target()
    scan = _scan(target)
    findings = [_finding(target, "cors-misconfiguration"), _finding(target, "sri-missing")]
    with Session(engine, expire_on_commit=False) as session, session.begin():
        session.add(target)
        session.flush()
        session.add_all([scan, *findings])
    with Session(engine) as session:
        loaded_target = session.get_one(ScanTarget, target.id)
        loaded_scan = session.get_one(Scan, scan.id)
        loaded = list(session.query(Finding).filter_by(target_id=target.id))
        outputs = {
            fmt: render(fmt, target=loaded_target, scan=loaded_scan, findings=loaded)
            for fmt in FORMATS
        }
    sarif = json.loads(outputs["sarif"])
    assert _errors(sarif_validator, sarif) == []
    assert sarif["runs"][0]["invocations"][0]["startTimeUtc"] == "2026-12-01T12:00:00Z"
    document = json.loads(outputs["json"])
    assert [f["rule"] for f in document["findings"]] == ["cors-misconfiguration", "sri-missing"]
    assert document["findings"][0]["first_seen_at"] == "2026-12-01T12:00:00Z"
    assert _junit(outputs["junit"]).get("failures") == "2"
    assert b"Scan report: weak" in outputs["html"]


def test_sarif_locations_are_relative_to_named_origins(sarif_validator: Any) -> None:
    target = _target()
    home = _finding(target, "csp-missing", url="http://shop.test/")
    search = _finding(target, "cookie-no-samesite", url="http://shop.test/?q=x")
    elsewhere = _finding(target, "sri-missing", url="https://cdn.shop.test:8443/lib/a:b.js")
    document = json.loads(
        render("sarif", target=target, scan=None, findings=[home, search, elsewhere])
    )
    assert _errors(sarif_validator, document) == []
    run = document["runs"][0]
    assert {name: base["uri"] for name, base in run["originalUriBaseIds"].items()} == {
        "TARGET": "http://shop.test/",
        "ORIGIN1": "https://cdn.shop.test:8443/",
    }
    artifacts = {
        r["ruleId"]: r["locations"][0]["physicalLocation"]["artifactLocation"]
        for r in run["results"]
    }
    assert artifacts["csp-missing"] == {"uri": "./", "uriBaseId": "TARGET"}
    assert artifacts["cookie-no-samesite"] == {"uri": "./?q=x", "uriBaseId": "TARGET"}
    assert artifacts["sri-missing"] == {"uri": "lib/a%3Ab.js", "uriBaseId": "ORIGIN1"}
    for rule, artifact in artifacts.items():  # each resolves back to the finding's URL
        base = run["originalUriBaseIds"][artifact["uriBaseId"]]["uri"]
        url = {"csp-missing": home, "cookie-no-samesite": search, "sri-missing": elsewhere}[rule]
        assert unquote(urljoin(base, artifact["uri"])) == url.url
