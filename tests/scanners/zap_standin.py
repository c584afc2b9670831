"""TEST STAND-IN for a ZAP daemon (ZAP itself, a Java application, cannot be installed here): a
real local HTTP server that answers the JSON API calls the ZAP engine makes, in ZAP's shapes.

How the client talks to it (zaproxy 0.6.0, ``zapv2/__init__.py``): every call is a GET (or POST)
of ``http://zap/JSON/<component>/<view|action>/<name>/`` sent through the daemon as an HTTP proxy
(so the request line holds the absolute URL), the key in the ``X-ZAP-API-Key`` header; views and
actions return ``next(iter(json.values()))`` of the answer, OTHER endpoints the body text.

Shapes (ZAP's API: ``ApiResponseElement`` is ``{"<name>": "<value>"}``, ``ApiResponseList`` is
``{"<name>": [...]}``; the operation names are those of zapv2's generated modules):
``core/view/version`` -> ``{"version": "2.16.0"}``; actions -> ``{"Result": "OK"}``;
``context/action/newContext`` -> ``{"contextId": "1"}``; ``spider/action/scan`` and
``ascan/action/scan`` -> ``{"scan": "0"}``; ``spider/view/status`` and ``ascan/view/status`` ->
``{"status": "<percent>"}``; ``pscan/view/recordsToScan`` -> ``{"recordsToScan": "<n>"}``;
``core/view/alerts`` (baseurl, start, count) -> ``{"alerts": [{"pluginId": "40012", "alertRef":
..., "alert": ..., "risk": "High", "confidence": "Medium", "url": ..., "method": ..., "param":
..., "attack": ..., "evidence": ..., "cweid": "79", ...}]}``; ``core/other/jsonreport`` -> ZAP's
report. A wrong key gets ZAP's ApiException JSON ``{"code": "bad_api_key", "message": ...}``
with status 400 (what ZAP's API.java answers an ApiException with; the status code was not
checked against a running ZAP here)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

API_KEY = "zap-standin-key"


@dataclass
class ZapState:
    api_key: str = API_KEY
    alerts: list[dict[str, Any]] = field(default_factory=list)
    spider_steps: list[int] = field(default_factory=lambda: [30, 100])
    ascan_steps: list[int] = field(default_factory=lambda: [10, 60, 100])
    pscan_records: list[int] = field(default_factory=lambda: [3, 0])
    stuck: bool = False  # the active scan never gets past 42 %
    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    rules: dict[str, dict[str, str]] = field(default_factory=dict)

    def called(self, path: str) -> list[dict[str, str]]:
        return [params for p, params in self.calls if p == path]


def _next(steps: list[int]) -> int:
    return steps.pop(0) if len(steps) > 1 else steps[0]


class _Handler(BaseHTTPRequestHandler):
    state: ZapState

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._answer(dict(parse_qsl(urlsplit(self.path).query)))

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode()
        self._answer(dict(parse_qsl(urlsplit(self.path).query)) | dict(parse_qsl(body)))

    def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _answer(self, params: dict[str, str]) -> None:
        state = self.state
        parts = urlsplit(self.path)
        if parts.hostname != "zap":
            self._send(502, {"error": "the stand-in only answers the ZAP API"})
            return
        path = parts.path
        state.calls.append((path, params))
        if self.headers.get("x-zap-api-key") != state.api_key:
            self._send(400, {"code": "bad_api_key", "message": "Bad API key"})
            return
        ok = {"Result": "OK"}
        answers: dict[str, Any] = {
            "/JSON/core/view/version/": lambda: {"version": "2.16.0"},
            "/JSON/core/action/newSession/": lambda: ok,
            "/JSON/context/action/newContext/": lambda: {"contextId": "1"},
            "/JSON/context/action/includeInContext/": lambda: ok,
            "/JSON/context/action/excludeFromContext/": lambda: ok,
            "/JSON/replacer/action/addRule/": lambda: self._add_rule(params),
            "/JSON/replacer/action/removeRule/": lambda: self._remove_rule(params),
            "/JSON/spider/action/scan/": lambda: {"scan": "0"},
            "/JSON/spider/view/status/": lambda: {"status": str(_next(state.spider_steps))},
            "/JSON/spider/action/stop/": lambda: self._stop("spider"),
            "/JSON/pscan/view/recordsToScan/": lambda: {
                "recordsToScan": str(_next(state.pscan_records))
            },
            "/JSON/ascan/action/scan/": lambda: {"scan": "7"},
            "/JSON/ascan/view/status/": lambda: {
                "status": "42" if state.stuck else str(_next(state.ascan_steps))
            },
            "/JSON/ascan/action/stop/": lambda: self._stop("ascan"),
            "/JSON/core/view/alerts/": lambda: self._alerts(params),
        }
        if path == "/OTHER/core/other/jsonreport/":
            report = {"@programName": "ZAP", "@version": "2.16.0", "site": []}
            self._send(200, report)
            return
        answer = answers.get(path)
        if answer is None:
            self._send(400, {"code": "bad_view", "message": "No such view"})
            return
        self._send(200, answer())

    def _add_rule(self, params: dict[str, str]) -> dict[str, str]:
        self.state.rules[params["description"]] = params
        return {"Result": "OK"}

    def _remove_rule(self, params: dict[str, str]) -> dict[str, str]:
        self.state.rules.pop(params["description"], None)
        return {"Result": "OK"}

    def _stop(self, what: str) -> dict[str, str]:
        self.state.stopped.append(what)
        return {"Result": "OK"}

    def _alerts(self, params: dict[str, str]) -> dict[str, Any]:
        start = int(params.get("start") or 0)
        count = int(params.get("count") or 0) or len(self.state.alerts)
        base = params.get("baseurl", "")
        matching = [a for a in self.state.alerts if a["url"].startswith(base)]
        return {"alerts": matching[start : start + count]}


@contextmanager
def serve_zap(state: ZapState) -> Iterator[str]:
    """The stand-in on a free loopback port until the block ends; yields its URL."""
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="zap-standin", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def alert(n: int, base: str, plugin: str = "40012", cwe: str = "79") -> dict[str, Any]:
    return {
        "id": str(n), "pluginId": plugin, "alertRef": plugin, "alert": f"alert {plugin}",
        "name": f"alert {plugin}", "risk": "High", "confidence": "Medium",
        "url": f"{base}/page/{n}?q=x", "method": "GET", "param": "q",
        "attack": "<script>alert(1)</script>", "evidence": "<script>alert(1)</script>",
        "cweid": cwe, "wascid": "8", "messageId": str(n),
    }  # fmt: skip
