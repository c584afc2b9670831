"""The ZAP engine: a ZAP daemon (``deploy/compose.yaml`` runs the official image) driven through
the ``zaproxy`` client (``zapv2``), which sends every API call to ``http://zap/JSON/...`` through
the daemon as an HTTP proxy, the API key in the ``X-ZAP-API-Key`` header.

Per scan: a new session and a context (the scope's include/exclude regexes), one replacer rule
per auth header (``replacer/action/addRule``, REQ_HEADER: ZAP adds it to every request it
sends; removed when the scan ends), the spider (and the Ajax spider when
``RAMPART_SCAN_ZAP_AJAX_SPIDER``), a wait until the passive scanner has no records left, the
active scan with the named policy, then the alerts page by page (``core/view/alerts`` with
start/count) as observations and ZAP's JSON report as the artefact (:attr:`ZapEngine.report_path`).

Re-attaching: :attr:`ZapEngine.scan_ids` holds the spider and active-scan ids as soon as ZAP
gives them; a job that restarts passes the active-scan id back as ``resume_ascan_id`` and the
engine polls that scan instead of starting another (ZAP keeps running while Rampart restarts).

The target was vetted by ``vault.proxy.destinations.pin`` before ZAP is told about it, but ZAP
resolves the name again itself: a DNS answer that changes in between is not caught here (ZAP
has no option to pin an address); run ZAP on a network that cannot reach internal services."""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import requests
from zapv2 import ZAPv2

from core.settings import Settings, get_settings
from scanners.engines.base import Event, Observation, Progress, ScanRequest
from scanners.engines.builtin.crawl import vet_target
from scanners.exceptions import ScanFailed
from scanners.rules import ZAP_PLUGIN_RULES

ALERTS_PAGE = 100
RISKS = {"informational": "info", "low": "low", "medium": "medium", "high": "high"}
CONFIDENCES = {"low": "low", "medium": "medium", "high": "high", "confirmed": "confirmed"}


class ZapEngine:
    name = "zap"

    def __init__(self, settings: Settings | None = None, *, resume_ascan_id: str = "") -> None:
        self._settings = settings or get_settings()
        self._cancelled = threading.Event()
        self.resume_ascan_id = resume_ascan_id
        self.scan_ids: dict[str, str] = {}
        self.workdir: Path | None = None
        self.report_path: Path | None = None  # ZAP's JSON report: the scan's artefact

    def client(self) -> ZAPv2:
        url = self._settings.scan_zap_url
        key = self._settings.scan_zap_api_key
        return ZAPv2(
            proxies={"http": url, "https": url},
            apikey=key.get_secret_value() if key else None,
            validate_status_code=True,
        )

    def cancel(self) -> None:
        """Stop the running spider / active scan in ZAP; the stream ends with ScanFailed."""
        self._cancelled.set()

    def cleanup(self) -> None:
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = self.report_path = None

    def scan(self, request: ScanRequest) -> Iterator[Event]:
        vet_target(request)
        zap = self.client()
        deadline = time.monotonic() + request.limits.max_seconds
        version = self._call(lambda: zap.core.version)
        yield Progress(0, 4, f"ZAP {version}")
        base = request.scope.base_url
        rules: list[str] = []
        try:
            if self.resume_ascan_id:
                ascan_id = self.resume_ascan_id
            else:
                context_name = f"rampart-{uuid.uuid4().hex[:12]}"
                self._call(lambda: zap.core.new_session(name=context_name, overwrite="true"))
                context_id = str(self._call(lambda: zap.context.new_context(context_name)))
                self.scan_ids["context"] = context_id
                for pattern in request.scope.include or (re.escape(base) + ".*",):
                    self._call(partial(zap.context.include_in_context, context_name, pattern))
                for pattern in request.scope.exclude:
                    self._call(partial(zap.context.exclude_from_context, context_name, pattern))
                for index, (header, value) in enumerate(request.headers.items()):
                    rule = f"{context_name}-header-{index}"
                    # ZAP adds the header to every request it sends (replacer add-on).
                    self._call(
                        partial(
                            zap.replacer.add_rule, description=rule, enabled="true",
                            matchtype="REQ_HEADER", matchregex="false", matchstring=header,
                            replacement=value,
                        )
                    )  # fmt: skip
                    rules.append(rule)
                spider_id = str(self._call(lambda: zap.spider.scan(base, contextname=context_name)))
                self.scan_ids["spider"] = spider_id
                yield from self._poll(
                    lambda: zap.spider.status(spider_id),
                    lambda: zap.spider.stop(spider_id),
                    deadline, 1, "spider",
                )  # fmt: skip
                if self._settings.scan_zap_ajax_spider:
                    self._call(lambda: zap.ajaxSpider.scan(base, contextname=context_name))
                    yield from self._poll(
                        lambda: "100" if zap.ajaxSpider.status == "stopped" else "50",
                        lambda: zap.ajaxSpider.stop(),
                        deadline, 1, "ajax spider",
                    )  # fmt: skip
                yield from self._poll(
                    lambda: "100" if int(zap.pscan.records_to_scan) == 0 else "50",
                    lambda: None,
                    deadline, 2, "passive scan",
                )  # fmt: skip
                policy = self._settings.scan_zap_policy or None
                ascan_id = str(
                    self._call(
                        lambda: zap.ascan.scan(
                            base, recurse="true", scanpolicyname=policy, contextid=context_id
                        )
                    )
                )
            self.scan_ids["ascan"] = ascan_id
            yield from self._poll(
                lambda: zap.ascan.status(ascan_id),
                lambda: zap.ascan.stop(ascan_id),
                deadline, 3, "active scan",
            )  # fmt: skip
            yield from self._alerts(zap, request)
            self._keep_report(zap)
            yield Progress(4, 4, "done")
        finally:
            for rule in rules:  # best effort: the daemon may be the thing that failed
                try:
                    zap.replacer.remove_rule(rule)
                except Exception:  # noqa: S112 - ZAP's client raises bare Exception
                    continue

    def _poll(
        self,
        status: Callable[[], Any],
        stop: Callable[[], Any],
        deadline: float,
        step: int,
        label: str,
    ) -> Iterator[Progress]:
        last = -1
        while True:
            if self._cancelled.is_set():
                self._quietly(stop)
                raise ScanFailed("the scan was cancelled")
            value = self._call(status)
            try:
                percent = int(value)
            except (TypeError, ValueError):
                raise ScanFailed(f"ZAP answered an unexpected {label} status") from None
            if percent != last:
                last = percent
                yield Progress(step - 1, 4, f"{label} {percent}%")
            if percent >= 100:
                return
            if time.monotonic() >= deadline:
                self._quietly(stop)
                raise ScanFailed(f"ZAP's {label} did not finish within the scan's time budget")
            time.sleep(self._settings.scan_zap_poll_seconds)

    def _alerts(self, zap: ZAPv2, request: ScanRequest) -> Iterator[Observation]:
        start = 0
        while True:
            page = self._call(
                partial(
                    zap.core.alerts, baseurl=request.scope.base_url, start=start, count=ALERTS_PAGE
                )
            )
            if not isinstance(page, list):
                raise ScanFailed("ZAP answered an unexpected alerts page")
            for alert in page:
                observation = alert_observation(alert)
                if observation is not None and request.scope.allows(observation.url):
                    yield observation
            if len(page) < ALERTS_PAGE:
                return
            start += ALERTS_PAGE

    def _keep_report(self, zap: ZAPv2) -> None:
        report = self._call(lambda: zap.core.jsonreport())
        self.cleanup()
        self.workdir = Path(tempfile.mkdtemp(prefix="rampart-zap-"))
        self.report_path = self.workdir / "zap-report.json"
        self.report_path.write_text(str(report), encoding="utf-8")

    def _call(self, call: Callable[[], Any]) -> Any:
        """One API call; ZAP's failures as ScanFailed saying which (never the key)."""
        url = self._settings.scan_zap_url
        try:
            return call()
        except requests.ConnectionError:
            raise ScanFailed(f"the ZAP daemon at {url} is not reachable") from None
        except requests.Timeout:
            raise ScanFailed(f"the ZAP daemon at {url} did not answer in time") from None
        except Exception as exc:  # zapv2 raises bare Exception with the response text
            text = str(exc)
            if "bad_api_key" in text or "missing_api_key" in text:
                raise ScanFailed(
                    "the ZAP daemon refused the API key (RAMPART_SCAN_ZAP_API_KEY)"
                ) from None
            code = re.search(r'"code"\s*:\s*"([a-z_]+)"', text)
            reason = code.group(1) if code else "an unexpected answer"
            raise ScanFailed(f"the ZAP daemon failed: {reason}") from None

    @staticmethod
    def _quietly(call: Callable[[], Any]) -> None:
        with contextlib.suppress(Exception):  # stopping is best effort
            call()


def alert_observation(alert: Mapping[str, Any]) -> Observation | None:
    """One ZAP alert as an observation: its pluginId mapped to our rule key, else the generic
    ``external-alert`` with ZAP's id, CWE and name kept in the parameter and evidence."""
    confidence = CONFIDENCES.get(str(alert.get("confidence", "")).lower())
    if confidence is None:  # "False Positive" (set by a user in ZAP) and unknown values
        return None
    try:
        plugin = int(str(alert.get("pluginId", "")))
    except ValueError:
        plugin = -1
    rule = ZAP_PLUGIN_RULES.get(plugin, "external-alert")
    parameter = str(alert.get("param") or "")
    name = str(alert.get("alert") or alert.get("name") or "")
    cwe = str(alert.get("cweid") or "")
    if rule == "external-alert":
        tag = f"zap {plugin}" + (f" CWE-{cwe}" if cwe not in ("", "-1", "0") else "")
        parameter = f"[{tag}] {parameter}".strip()
    evidence = "\n".join(
        part
        for part in (name, str(alert.get("attack") or ""), str(alert.get("evidence") or ""))
        if part
    )
    return Observation(
        rule=rule,
        url=str(alert.get("url") or ""),
        method=str(alert.get("method") or "GET"),
        parameter=parameter,
        evidence=evidence,
        risk=RISKS.get(str(alert.get("risk", "")).lower()),
        confidence=confidence,
    )
