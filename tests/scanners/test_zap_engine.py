"""The ZAP engine through the real zaproxy client against the local ZAP stand-in
(tests/scanners/zap_standin.py): the whole scan with paginated alerts as observations, auth
headers as replacer rules removed afterwards, re-attaching by the active-scan id, and clear
ScanFailed errors for a daemon that is down, a wrong API key, a stuck scan and a cancel."""

from __future__ import annotations

import threading

import pytest
from pydantic import SecretStr

from core.settings import get_settings
from scanners.engines import get_engine
from scanners.engines.base import Limits, Observation, Progress, ScanRequest, Scope
from scanners.engines.zap import ZapEngine, alert_observation
from scanners.exceptions import ScanFailed
from tests.interop.conftest import free_port
from tests.scanners.zap_standin import API_KEY, ZapState, alert, serve_zap

TARGET = "http://127.0.0.1:8081"  # loopback: allowed by allow_private, never contacted
LIMITS = Limits(max_pages=10, max_depth=2, max_seconds=20, request_timeout=5,
                max_response_bytes=1 << 20)  # fmt: skip
SECRET = "Bearer zap-header-secret-91c2"


def _engine(url: str, key: str = API_KEY, **kwargs: object) -> ZapEngine:
    settings = get_settings().model_copy(
        update={
            "scan_zap_url": url,
            "scan_zap_api_key": SecretStr(key),
            "scan_zap_poll_seconds": 0.05,
        }
    )
    return ZapEngine(settings, **kwargs)  # type: ignore[arg-type]


def _request(**changes: object) -> ScanRequest:
    request = ScanRequest(
        target="shop", scope=Scope(TARGET + "/", exclude=(r".*/logout.*",)), limits=LIMITS,
        allow_private=True, headers={"Authorization": SECRET},
    )  # fmt: skip
    for name, value in changes.items():
        object.__setattr__(request, name, value)
    return request


def test_a_scan_runs_every_stage_and_pages_through_the_alerts() -> None:
    state = ZapState(alerts=[alert(n, TARGET) for n in range(250)])
    state.alerts.append(alert(250, TARGET, plugin="10202", cwe="352"))
    state.alerts.append(alert(251, TARGET, plugin="99999", cwe="1234"))  # unknown to us
    state.alerts.append(alert(252, "http://other.example"))  # another site: not asked for
    with serve_zap(state) as url:
        engine = _engine(url)
        events = list(engine.scan(_request()))
    observations = [e for e in events if isinstance(e, Observation)]
    progress = [e for e in events if isinstance(e, Progress)]
    assert len(observations) == 252
    pages = state.called("/JSON/core/view/alerts/")
    assert [p["start"] for p in pages] == ["0", "100", "200"]
    assert {p["count"] for p in pages} == {"100"} and pages[0]["baseurl"] == TARGET + "/"
    xss = observations[0]
    assert (xss.rule, xss.risk, xss.confidence, xss.parameter) == (
        "xss-reflected", "high", "medium", "q"
    )  # fmt: skip
    assert observations[250].rule == "csrf"
    unknown = observations[251]
    assert unknown.rule == "external-alert" and unknown.parameter == "[zap 99999 CWE-1234] q"
    # the stages, in order, in one context holding the scope
    order = [path for path, _ in state.calls]
    for earlier, later in [
        ("/JSON/core/action/newSession/", "/JSON/context/action/newContext/"),
        ("/JSON/spider/action/scan/", "/JSON/pscan/view/recordsToScan/"),
        ("/JSON/pscan/view/recordsToScan/", "/JSON/ascan/action/scan/"),
        ("/JSON/ascan/action/scan/", "/JSON/core/view/alerts/"),
    ]:
        assert order.index(earlier) < order.index(later)
    assert state.called("/JSON/context/action/excludeFromContext/")[0]["regex"] == r".*/logout.*"
    assert state.called("/JSON/ascan/action/scan/")[0]["contextId"] == "1"
    rule = state.called("/JSON/replacer/action/addRule/")[0]
    assert (rule["matchType"], rule["matchString"]) == ("REQ_HEADER", "Authorization")
    assert state.rules == {}  # the header rule was removed at the end
    assert engine.scan_ids == {"context": "1", "spider": "0", "ascan": "7"}
    assert [p.message for p in progress if "active scan" in p.message] == [
        "active scan 10%", "active scan 60%", "active scan 100%"
    ]  # fmt: skip
    assert engine.report_path is not None and '"ZAP"' in engine.report_path.read_text()
    for observation in observations:
        assert SECRET not in observation.evidence + observation.parameter
    engine.cleanup()


def test_a_restarted_job_reattaches_to_the_running_active_scan() -> None:
    state = ZapState(alerts=[alert(1, TARGET)])
    with serve_zap(state) as url:
        events = list(_engine(url, resume_ascan_id="7").scan(_request()))
    assert [e.rule for e in events if isinstance(e, Observation)] == ["xss-reflected"]
    assert state.called("/JSON/ascan/action/scan/") == []  # no second scan started
    assert state.called("/JSON/spider/action/scan/") == []
    assert {p["scanId"] for p in state.called("/JSON/ascan/view/status/")} == {"7"}


def test_a_daemon_that_is_down_is_a_clear_error() -> None:
    engine = _engine(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ScanFailed, match=r"ZAP daemon at http://127\.0\.0\.1:\d+ is not reach"):
        list(engine.scan(_request()))


def test_a_wrong_api_key_is_a_clear_error_without_the_key() -> None:
    with (
        serve_zap(ZapState()) as url,
        pytest.raises(ScanFailed, match="refused the API key") as caught,
    ):
        list(_engine(url, key="wrong-key-123").scan(_request()))
    assert "wrong-key-123" not in str(caught.value.detail)


def test_a_stuck_active_scan_times_out_and_is_stopped() -> None:
    state = ZapState(stuck=True)
    limits = Limits(max_pages=10, max_depth=2, max_seconds=1, request_timeout=5,
                    max_response_bytes=1 << 20)  # fmt: skip
    with (
        serve_zap(state) as url,
        pytest.raises(ScanFailed, match="active scan did not finish within"),
    ):
        list(_engine(url).scan(_request(limits=limits)))
    assert state.stopped == ["ascan"]
    assert state.rules == {}


def test_cancel_stops_the_scan_in_zap() -> None:
    state = ZapState(stuck=True)
    with serve_zap(state) as url:
        engine = _engine(url)
        threading.Timer(0.5, engine.cancel).start()
        with pytest.raises(ScanFailed, match="cancelled"):
            list(engine.scan(_request()))
    assert state.stopped == ["ascan"]


def test_false_positives_marked_in_zap_are_dropped() -> None:
    raw = alert(1, TARGET) | {"confidence": "False Positive"}
    assert alert_observation(raw) is None


def test_get_engine_knows_zap() -> None:
    assert get_engine("zap").name == "zap"
