"""The wapiti engine runs the real wapiti3 (its own venv) against real local apps: it finds the
planted reflected XSS and error-based SQL injection of the weak shop, nothing of medium risk or
above on the hardened shop or on Rampart's own server, sends the auth headers without putting
them on the command line or in findings, and stops on cancel and on its deadline."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from core.kms.keyfile import create_local_key_file
from core.settings import Settings, get_settings
from scanners.engines import get_engine, wapiti
from scanners.engines.base import Limits, Observation, Progress, ScanRequest, Scope
from scanners.engines.wapiti import WapitiEngine
from scanners.exceptions import ScanFailed, TargetRefused
from scanners.normalise import normalise
from scanners.rules import RULES, risk_rank
from tests.fixtures.local_apps import serve_app
from tests.scanners.shops import PLANTED_ACTIVE

LIMITS = Limits(max_pages=30, max_depth=3, max_seconds=60, request_timeout=5,
                max_response_bytes=1 << 20)  # fmt: skip
SECRET = "Bearer wapiti-test-secret-7f3a"
FAST_MODULES = "xss,sql,exec,file,crlf,redirect"  # the default set less permanentxss and ssrf


def _engine(**overrides: object) -> WapitiEngine:
    base = get_settings()
    values = {"scan_wapiti_modules": FAST_MODULES, **overrides}
    return WapitiEngine(base.model_copy(update=values))


def _request(url: str, **changes: object) -> ScanRequest:
    request = ScanRequest(target="shop", scope=Scope(url + "/"), limits=LIMITS, allow_private=True)
    for name, value in changes.items():
        object.__setattr__(request, name, value)
    return request


def _serious(observations: list[Observation]) -> list[tuple[str, str, str]]:
    return [
        (o.rule, o.url, o.parameter)
        for o in observations
        if risk_rank(o.risk or RULES[o.rule].risk) >= risk_rank("medium")
    ]


def _run(engine: WapitiEngine, request: ScanRequest) -> tuple[list[Observation], list[Progress]]:
    events = list(engine.scan(request))
    return (
        [e for e in events if isinstance(e, Observation)],
        [e for e in events if isinstance(e, Progress)],
    )


def test_wapiti_finds_the_planted_xss_and_sql_injection(weak_scan_shop: str) -> None:
    engine = _engine()
    started = time.monotonic()
    observations, progress = _run(engine, _request(weak_scan_shop))
    elapsed = time.monotonic() - started
    found = {(o.rule, o.url.removeprefix(weak_scan_shop), o.parameter) for o in observations}
    assert ("xss-reflected", "/search", "q") in found
    assert ("sql-injection", "/product", "id") in found
    assert {o.rule for o in observations} >= PLANTED_ACTIVE
    sqli = next(o for o in observations if o.rule == "sql-injection")
    assert sqli.risk == "critical" and "SQLite" in sqli.evidence  # wapiti's level 4
    assert normalise("t", sqli).rule.zap_plugin_id == 40018
    # progress: crawl, then one step per module, then done
    assert progress[0].done == 0 and progress[-1].done == progress[-1].total == 7
    assert any(p.message == "module sql" for p in progress)
    # the report is kept as the artefact until the caller cleans up
    assert engine.report_path is not None and engine.report_path.is_file()
    assert '"SQL Injection"' in engine.report_path.read_text()
    engine.cleanup()
    assert engine.workdir is None
    assert elapsed < 60  # measured about 8 s here (docs/scanners.md)


def test_the_hardened_shop_has_nothing_of_medium_risk_or_above(hardened_shop: str) -> None:
    observations, _ = _run(_engine(), _request(hardened_shop))
    assert _serious(observations) == []


def test_dogfood_rampart_itself_has_nothing_of_medium_risk_or_above(settings: Settings) -> None:
    from server.app import create_app

    # Keys in place as `rampart init` leaves them: the pages (CSRF, portal codes) need the KMS.
    create_local_key_file(settings.resolved_local_key_file)
    limits = Limits(max_pages=300, max_depth=3, max_seconds=45, request_timeout=5,
                    max_response_bytes=1 << 20)  # fmt: skip
    with serve_app(create_app(settings)) as url:
        # The root links nowhere: wapiti attacks every operation of the OpenAPI document and
        # the HTML pages as well.
        engine = WapitiEngine(
            get_settings().model_copy(update={"scan_wapiti_modules": FAST_MODULES}),
            openapi_url=url + "/openapi.json",
            start_urls=(url + "/login", url + "/docs"),
        )
        observations, progress = _run(engine, _request(url, limits=limits))
    assert progress[-1].done == progress[-1].total  # the scan ran to the end
    assert engine.report_path is not None
    crawled = json.loads(engine.report_path.read_text())["infos"]["crawled_pages_nbr"]
    assert crawled >= 100  # the API's operations were reached, not only the root
    engine.cleanup()
    assert _serious(observations) == []


@pytest.fixture
def header_recorder() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []

    async def page(request: Request) -> Response:
        seen.append(request.headers.get("authorization", ""))
        return HTMLResponse("<html><body><a href='/a?x=1'>a</a></body></html>")

    app = Starlette(routes=[Route("/", page), Route("/a", page)])
    with serve_app(app) as url:
        yield url, seen


def test_auth_headers_reach_the_target_but_not_argv_or_findings(
    header_recorder: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, seen = header_recorder
    engine = _engine(scan_wapiti_modules="xss")
    request = _request(url, headers={"Authorization": SECRET})
    assert SECRET not in " ".join(engine.command(request, tmp_path))
    observations, _ = _run(engine, request)
    assert SECRET in seen  # wapiti sent it on its requests
    for observation in observations:
        assert SECRET not in observation.evidence + observation.parameter
    assert engine.workdir is not None
    assert not (engine.workdir / "launch.json").exists()  # the header file is gone
    assert engine.report_path is not None
    assert SECRET not in engine.report_path.read_text()
    engine.cleanup()


def test_cancel_kills_the_process_group(weak_scan_shop: str) -> None:
    engine = _engine(scan_wapiti_modules="xss,sql,exec,file,crlf,redirect,permanentxss")
    events = engine.scan(_request(weak_scan_shop))
    next(events)  # Progress(0): wapiti is launched
    next(events)
    process = engine._process
    assert process is not None and process.poll() is None
    threading.Timer(0.5, engine.cancel).start()
    with pytest.raises(ScanFailed, match="cancelled"):
        list(events)
    assert process.poll() is not None  # the process is gone
    engine.cleanup()


def test_a_scan_past_its_deadline_is_killed(
    weak_scan_shop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wapiti, "_GRACE_SECONDS", 0.0)
    limits = Limits(max_pages=30, max_depth=3, max_seconds=1.5, request_timeout=5,
                    max_response_bytes=1 << 20)  # fmt: skip
    engine = _engine()
    started = time.monotonic()
    with pytest.raises(ScanFailed, match=r"did not finish within 1\.5 s"):
        list(engine.scan(_request(weak_scan_shop, limits=limits)))
    assert time.monotonic() - started < 10
    engine.cleanup()


def test_loopback_is_refused_without_private_networks_before_wapiti_starts(
    weak_scan_shop: str,
) -> None:
    engine = _engine()
    with pytest.raises(TargetRefused):
        list(engine.scan(_request(weak_scan_shop, allow_private=False)))
    assert engine.workdir is None  # nothing was launched


def test_a_missing_wapiti_is_a_clear_error(weak_scan_shop: str) -> None:
    engine = _engine(scan_wapiti_binary="/nonexistent/python")
    with pytest.raises(ScanFailed, match="wapiti is not installed"):
        list(engine.scan(_request(weak_scan_shop)))


def test_get_engine_knows_wapiti() -> None:
    assert get_engine("wapiti").name == "wapiti"
